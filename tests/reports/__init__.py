"""The reports reviewers read: Allure HTML, the run history and dashboard, the gate command, in a browser."""
