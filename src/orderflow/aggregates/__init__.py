"""The domain: one module per aggregate (web order, order-taking setup, numbering) and their values."""
