"""Green Button Connect My Data (O. Reg. 633/21; NAESB REQ.21 ESPI): third parties registered by
an LDC, customers' consents, the OAuth 2.0 authorisation server and the ESPI resource server."""
