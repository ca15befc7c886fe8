"""Sends errors to faultline with the real sentry-python SDK (installed from PyPI).

Usage: python python_app.py DSN
Sends: the same KeyError twice (from a nested call with locals), a ZeroDivisionError, a message,
and an error through the logging integration, with tags, user, breadcrumbs, release and
environment. Transport defaults are kept: gzip-compressed envelopes.
"""
import logging
import sys

import sentry_sdk

dsn = sys.argv[1]
sentry_sdk.init(
    dsn=dsn,
    release="shop@2.3.4",
    environment="staging",
    include_local_variables=True,
    default_integrations=True,
)
sentry_sdk.set_tag("region", "eu-west")
sentry_sdk.set_user({"id": "user-42", "email": "ada@example.com"})
sentry_sdk.add_breadcrumb(category="cart", message="added sku-17", level="info")


def price_of(cart, sku):
    discount = 0.1
    return cart[sku] * (1 - discount)


def checkout(cart):
    total_items = len(cart)
    return price_of(cart, "sku-missing")


for attempt in range(2):
    try:
        checkout({"sku-1": 10})
    except KeyError:
        sentry_sdk.capture_exception()

try:
    1 / 0
except ZeroDivisionError:
    sentry_sdk.capture_exception()

sentry_sdk.capture_message("inventory sync finished with warnings", level="warning")
logging.getLogger("shop.payments").error("payment %s declined", "pay-991")

sentry_sdk.flush(timeout=10)
print("sent")
