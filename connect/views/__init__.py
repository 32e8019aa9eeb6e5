"""Connect My Data pages: the customer's consent page and consents list (customer), the LDC
administrator's third parties (ldc), and the ESPI resource server (espi)."""
