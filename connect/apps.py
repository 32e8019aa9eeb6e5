from django.apps import AppConfig


class ConnectConfig(AppConfig):
    name = "connect"
    verbose_name = "Green Button Connect My Data"

    def ready(self) -> None:
        from connect import receivers, tasks  # noqa: F401  (tasks: registered in every process)

        receivers.connect()
