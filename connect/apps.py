from django.apps import AppConfig


class ConnectConfig(AppConfig):
    name = "connect"
    verbose_name = "Green Button Connect My Data"

    def ready(self) -> None:
        from connect import receivers, tasks  # noqa: F401  (signal receivers, task registry)
