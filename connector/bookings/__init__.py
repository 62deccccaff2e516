"""The booking join: a Calendly / Cal.com webhook meets its browser beacon in either order.

- `facts`: what a booking Submission carries for the join;
- `join`: the booking row, locked; a new booking becomes a lead, reschedules and cancellations update it;
- `release`: a lead without an event_id is held for its beacon, then released once;
- `visitors`: a visitor's first touch remembered across visits (the first-party cookie);
- `story`: what `connector events show` says about a booking.
"""
