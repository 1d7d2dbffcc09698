"""Browser pages: /dashboard (admin) and /store (shopper), server-rendered with Jinja2."""
