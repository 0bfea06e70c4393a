"""orderflow: the event-sourced truth about web orders between a storefront and an ERP."""
