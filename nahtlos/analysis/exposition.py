"""The router's metric names, as the Prometheus provider reads them.

The local router renders them (``nahtlos.platforms.local.stats.prometheus_text``); any other
backend that wants the Prometheus provider exports the same series:

    nahtlos_requests_total{app, module, version, code}                 counter; code = 1xx .. 5xx
    nahtlos_connection_errors_total{app, module, version}              counter; no response at all
    nahtlos_request_duration_seconds_bucket{app, module, version, le}  histogram of every request
    nahtlos_request_duration_seconds_sum / _count{app, module, version}   counted in requests_total

The histogram's ``+Inf`` bucket (``_count``) equals the requests of all code classes, as
``RequestStats.requests`` does.
"""

from __future__ import annotations

REQUESTS = "nahtlos_requests_total"
CONNECTION_ERRORS = "nahtlos_connection_errors_total"
DURATION = "nahtlos_request_duration_seconds"
CODE_LABEL = "code"
# code label value -> RequestStats field (1xx is counted in the requests only)
CODE_CLASSES = {"2xx": "status_2xx", "3xx": "status_3xx", "4xx": "status_4xx", "5xx": "status_5xx"}
