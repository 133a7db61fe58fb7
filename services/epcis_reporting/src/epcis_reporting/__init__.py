"""EPCIS reporting: what CMOs and lines send as EPCIS documents, captured; and queried by partners."""
