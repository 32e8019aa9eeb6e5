"""With REDIS_URL the cache (and so allauth's login rate limits) lives in a real Redis."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import caches
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_login_rate_limit_counts_in_redis(
    client: Any, world: Any, redis_server: Any, settings: Any
) -> None:
    import redis

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_server.url,
        }
    }
    redis.Redis.from_url(redis_server.url).flushall()
    email = world.user("north", "back_office").email
    pages = [
        client.post(reverse("account_login"), {"login": email, "password": "wrong-password"})
        for _ in range(7)
    ]
    assert "Too many failed login attempts" not in pages[0].content.decode()
    assert "Too many failed login attempts" in pages[-1].content.decode()
    keys = redis.Redis.from_url(redis_server.url).keys("*")
    assert keys, "the rate-limit counters are in Redis"
    assert caches["default"].__class__.__name__ == "RedisCache"
