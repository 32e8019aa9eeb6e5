"""ESPI resources (NAESB REQ.21) under /espi/1_1/resource/, as the standard names them."""

urlpatterns: list = []
