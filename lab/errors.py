"""The one error `python -m lab` reports: a message and the exit status it ends with."""

EXIT_USAGE = 2        # bad arguments, or a fault or value the lab refused
EXIT_NOT_READY = 3    # the lab is not set up, not running, or did not start


class LabError(Exception):
    def __init__(self, message, exit_code=EXIT_NOT_READY):
        super().__init__(message)
        self.exit_code = exit_code
