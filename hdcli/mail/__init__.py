"""Inbound mail: parsing and classification of RFC 5322 messages."""
