"""Errors in the contract's shape: {"error": {"message", "type", "param", "code"}}."""

from flask import jsonify


class APIError(Exception):
    """An error answered to the client with an HTTP status and the spec's error body."""

    def __init__(self, status, message, *, param=None, code=None, type_: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type_

    def to_response(self):
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        return jsonify(body), self.status


def field_error(param, message, code: str = "invalid_value"):
    """A 400 that names the field it concerns."""
    return APIError(400, message, param=param, code=code)
