"""ApiError: a failed request as Kubernetes reports it, a `Status` object with reason and code."""

REASONS = {
    400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed',
    406: 'NotAcceptable', 409: 'Conflict', 410: 'Expired', 415: 'UnsupportedMediaType', 422: 'Invalid',
    500: 'InternalError',
}


class ApiError(Exception):
    """code and reason as the API server sends them; details as in Status.details."""

    def __init__(self, code, message, reason=None, details=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, 'Unknown')
        self.details = details

    def status(self):
        """The `Status` object of this error."""
        body = {'kind': 'Status', 'apiVersion': 'v1', 'metadata': {}, 'status': 'Failure',
                'message': self.message, 'reason': self.reason, 'code': self.code}
        if self.details:
            body['details'] = self.details
        return body


def _details(rtype, name):
    details = {'kind': rtype.plural}
    if rtype.group:
        details['group'] = rtype.group
    if name:
        details['name'] = name
    return details


def _resource(rtype):
    """How messages name a kind: `pods`, or `deployments.apps`."""
    return rtype.plural + ('.' + rtype.group if rtype.group else '')


def not_found(rtype, name):
    return ApiError(404, '{0} "{1}" not found'.format(_resource(rtype), name), details=_details(rtype, name))


def already_exists(rtype, name):
    return ApiError(409, '{0} "{1}" already exists'.format(_resource(rtype), name), 'AlreadyExists',
                    _details(rtype, name))


def conflict(rtype, name, why):
    return ApiError(409, 'Operation cannot be fulfilled on {0} "{1}": {2}'.format(_resource(rtype), name, why),
                    'Conflict', _details(rtype, name))


def stale(rtype, name):
    return conflict(rtype, name, 'the object has been modified; please apply your changes to the latest version '
                                 'and try again')


def invalid(rtype, name, causes):
    """422 for a list of (field, cause reason, message) such as ('metadata.name', 'FieldValueRequired', ...)."""
    details = dict(_details(rtype, name), kind=rtype.kind,
                   causes=[{'reason': reason, 'message': message, 'field': field}
                           for field, reason, message in causes])
    text = '; '.join('{0}: {1}'.format(field, message) for field, _reason, message in causes)
    return ApiError(422, '{0} "{1}" is invalid: {2}'.format(rtype.kind, name, text), details=details)


def forbidden(rtype, name, why):
    return ApiError(403, '{0} "{1}" is forbidden: {2}'.format(_resource(rtype), name, why),
                    details=_details(rtype, name))


def bad_request(message):
    return ApiError(400, message)


def gone(message):
    return ApiError(410, message)
