"""The contract's one error: input that breaks a rule of the Mathpix contract."""


class InvalidInput(ValueError):
    """Input breaks a rule of the Mathpix contract; the message names the field and the rule.

    Raised by the pure contract package, before any request. The provider's public
    entry points raise it as :class:`~airflow_provider_mathpix.exceptions.MathpixValidationError`
    (a subclass), so DAG authors see one class.
    """
