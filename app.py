"""The Chalice app: made here, assembled from the blueprints in ``chalicelib/http``; nothing else.

Middleware first (security headers, then the request log), as Chalice runs
it in the order registered; then the edge that lets the helpers read the
current request; then one blueprint per audience.
"""

from chalice import Chalice

from chalicelib.http.console import console
from chalicelib.http.console_admin import console_admin
from chalicelib.http.console_events import console_events
from chalicelib.http.console_registrations import console_registrations
from chalicelib.http.feeds import feeds
from chalicelib.http.handlers import handlers
from chalicelib.http.links import links
from chalicelib.http.middleware import middleware
from chalicelib.http.public_api import public_api
from chalicelib.http.request import edge
from chalicelib.http.site import site
from chalicelib.http.staff_api import staff_api
from chalicelib.render.spreadsheet import XLSX_CONTENT_TYPE

app = Chalice(app_name="sro-events")
# Answers of these types are sent base64-encoded (the registrations' .xlsx); see http/responses.download_response.
app.api.binary_types.append(XLSX_CONTENT_TYPE)

for blueprint in (middleware, edge, public_api, feeds, site, links, staff_api, console, console_events, console_registrations,
                  console_admin, handlers):
    app.register_blueprint(blueprint)
