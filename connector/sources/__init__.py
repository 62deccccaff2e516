"""One module per webhook sender; importing this package registers every one of them.

The app factory and the receipt jobs import it; the intake core (`connector.intake`) never does.
"""

from connector.sources import (  # noqa: F401
    beacon,
    cal_com,
    calendly,
    contact_form_7,
    elementor,
    fluent_forms,
    formidable,
    generic,
    gravity_forms,
    hubspot,
    ninja_forms,
    salesforce,
    wordpress,
    wpforms,
)
