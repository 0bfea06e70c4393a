"""The domain: one module per aggregate (order-taking setup, numbering), the web order as a package
with one module per stage (``web_order/``), and their values, errors and readers."""
