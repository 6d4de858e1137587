"""Session descriptions (RFC 8866) and the offer/answer model (RFC 3264), pure."""
