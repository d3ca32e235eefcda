"""The connection form as Airflow's UI of 2.11 and 3.0/3.1 wants it (Airflow >= 3.2 reads provider info)."""

from __future__ import annotations

from typing import Any

from airflow_provider_mathpix.hooks.connection_form import CONN_FIELDS, UI_FIELD_BEHAVIOUR


def ui_field_behaviour() -> dict[str, Any]:
    """Relabel the generic connection form for Mathpix (schema and port are unused)."""
    return {
        "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden-fields"]),
        "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
        "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
    }


def connection_form_widgets() -> dict[str, Any]:
    """The extras as form fields of the Flask UI (with FAB); ``{}`` when FAB is not installed.

    Built from the same ``CONN_FIELDS`` that Airflow >= 3.2 reads from the provider info,
    so both forms agree. Without flask_appbuilder there is no form to add to: the extras
    are then set in the connection's Extra JSON.
    """
    try:
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, StringField
        from wtforms.validators import NumberRange, Optional
    except ImportError:
        return {}
    widgets: dict[str, Any] = {}
    for name, field in CONN_FIELDS.items():
        default = field["schema"]["default"]
        label, description = lazy_gettext(field["label"]), field["description"]
        if "integer" in field["schema"]["type"]:
            widgets[name] = IntegerField(
                label,
                description=description,
                validators=[Optional(), NumberRange(min=0)],
                widget=BS3TextFieldWidget(),
                default=default,
            )
        else:  # that UI has no decimal field; the hook parses (and checks) the number
            widgets[name] = StringField(
                label, description=description, widget=BS3TextFieldWidget(), default=f"{default:g}"
            )
    return widgets
