from django.urls import path

from customers import views

app_name = "customers"
urlpatterns = [
    path("link/", views.LinkAccountView.as_view(), name="link"),
    path("links/<int:link_id>/unlink/", views.UnlinkAccountView.as_view(), name="unlink"),
]
