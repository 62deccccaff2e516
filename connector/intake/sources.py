"""Import every source module so each registers itself."""

from connector.intake import (  # noqa: F401
    beacon,
    cal_com,
    calendly,
    contact_form_7,
    elementor,
    fluent_forms,
    formidable,
    generic,
    gravity_forms,
    ninja_forms,
    wpforms,
)
