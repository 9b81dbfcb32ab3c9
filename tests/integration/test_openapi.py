"""GET /openapi.json (SPEC "Running as a service"): the OpenAPI 3.1 description of the HTTP
port, served from the binary, valid by a real validator (@apidevtools/swagger-parser, with
Ajv for the schemas: tests/node/openapi_check.js), true to what pfgate really answers
(status, Content-Type, required headers and body of real responses checked against it),
and complete (every route the router knows is described)."""
import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pfhttp import (INT64_MAX, NDJSON_PATH, PRIME_NEAR_2_63, HttpResponse, RawWS,
                    http_get_raw, http_raw, pfgate_path, stalled_websocket)

REPO = Path(__file__).resolve().parent.parent.parent
SOURCE = REPO / "docs" / "openapi.json"
NODE_DIR = REPO / "tests" / "node"
CHECK = NODE_DIR / "openapi_check.js"
FACTORS = "/v1/factors/{num}"


def version():
    return (REPO / "VERSION").read_text().strip()


def expected_document():
    """docs/openapi.json as the Makefile embeds it: @VERSION@ replaced by VERSION."""
    return json.loads(SOURCE.read_text().replace("@VERSION@", version()))


def run_check(tmp_path, doc, cases=None):
    """Runs the validator on doc (and the cases); returns (exit code, output)."""
    node = shutil.which("node")
    assert node, "node is not on PATH: run `make deps`"
    assert (NODE_DIR / "node_modules" / "@apidevtools" / "swagger-parser").is_dir(), \
        "tests/node/node_modules has no @apidevtools/swagger-parser: run `make deps`"
    doc_file = tmp_path / "openapi.json"
    doc_file.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    args = [node, str(CHECK), str(doc_file)]
    if cases is not None:
        cases_file = tmp_path / "cases.json"
        cases_file.write_text(json.dumps(cases))
        args.append(str(cases_file))
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def served(srv):
    r = http_get_raw(srv.http, "/openapi.json")
    assert r.status == 200, r
    return r


# ------------------------------------------------------------- the document ---

def test_openapi_json_is_served_from_the_binary(pfgate_factory, tmp_path):
    """Its bytes are docs/openapi.json's with the version set, whatever --web-root holds;
    application/json, cacheable; HEAD gives the same headers without the body."""
    (tmp_path / "openapi.json").write_text('{"not": "this one"}')
    srv = pfgate_factory("--web-root", str(tmp_path))
    r = served(srv)
    assert r.headers.get("content-type") == "application/json", r.headers
    assert r.headers.get("cache-control") == "public, max-age=3600", r.headers
    assert int(r.headers["content-length"]) == len(r.body)
    doc = json.loads(r.body)
    assert doc == expected_document()
    assert doc["openapi"] == "3.1.0"
    out = subprocess.run([pfgate_path(), "--version"], capture_output=True, text=True).stdout
    assert doc["info"]["version"] == version() and out == f"pfgate {version()}\n", out

    head = http_raw(srv.http, b"HEAD /openapi.json HTTP/1.1\r\nHost: x\r\n"
                    b"Connection: close\r\n\r\n", head_request=True)
    assert head.status == 200 and head.body == b""
    assert head.headers.get("content-length") == r.headers["content-length"]
    assert head.headers.get("content-type") == "application/json"


def test_served_document_is_valid_openapi(pfgate, tmp_path):
    rc, out = run_check(tmp_path, served(pfgate).body.decode())
    assert rc == 0, out
    assert out.startswith("valid: OpenAPI 3.1.0, 7 paths"), out


def _drop_title(d):
    del d["info"]["title"]


def _bad_status_code(d):
    d["paths"]["/healthz"]["get"]["responses"]["2000"] = {"description": "no such status"}


def _dangling_ref(d):
    d["paths"]["/healthz"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"] = {"$ref": "#/components/schemas/Nope"}


def _bad_schema_type(d):
    d["components"]["schemas"]["Factors"]["properties"]["factors"]["items"] = {"type": "int"}


def _renamed_path_parameter(d):
    d["paths"]["/v1/factors/{n}"] = d["paths"].pop(FACTORS)


@pytest.mark.parametrize("breakage, says", [
    (_drop_title, "#/info must have required property 'title'"),
    (_bad_status_code, "responses must NOT have unevaluated properties"),
    (_dangling_ref, '"Nope"'),  # swagger-parser 10: Token "Nope" does not exist
    (_bad_schema_type, "components/schemas/Factors: not a valid JSON Schema"),
    (_renamed_path_parameter, "path parameters num do not match the template's n"),
])
def test_validator_refuses_a_broken_document(pfgate, tmp_path, breakage, says):
    """The validator can fail: each breakage of the served document is refused, saying why."""
    doc = json.loads(served(pfgate).body)
    breakage(doc)
    rc, out = run_check(tmp_path, doc)
    assert rc == 1 and "invalid: " in out and says in out, out


# ------------------------------------------------- real responses against it ---

def case(what, method, path, r, status):
    """One real response for openapi_check.js, its status checked here first."""
    assert r.status == status, f"{what}: HTTP {r.status}, expected {status}: {r!r}"
    return {"what": what, "method": method, "path": path, "status": r.status,
            "headers": r.headers, "body": r.body.decode("utf-8", "replace")}


def get_case(srv, target, path, status):
    return case(f"GET {target}", "get", path, http_get_raw(srv.http, target), status)


def request(srv, head):
    return http_raw(srv.http, head.encode("latin-1"))


def ws_case(srv, what, status, origin=None, raw=None):
    if raw is not None:
        return case(what, "get", NDJSON_PATH, request(srv, raw), status)
    ws = RawWS(srv.http, origin=origin)
    try:
        r = ws.response
        if r is None:  # 101: no body
            r = HttpResponse(ws.status, "", ws.headers, b"")
        return case(what, "get", NDJSON_PATH, r, status)
    finally:
        ws.abort()


NDJSON_BODY = ("360\n\"12\"\n{\"num\": 1}\n{\"num\": \"-5\"}\n0\nabc\n{\"num\": 1.5}\n"
               "{\"num\": 360, \"x\": 1}\n99999999999999999999\n\n" + "1" * 20000 + "\n"
               f"{PRIME_NEAR_2_63}")
NDJSON_ANSWERS = [
    {"result": "2", "num": "360"}, {"result": "2", "num": "360"}, {"result": "2", "num": "360"},
    {"result": "3", "num": "360"}, {"result": "3", "num": "360"},
    {"result": "5", "num": "360", "last": True},
    {"result": "2", "num": "12"}, {"result": "2", "num": "12"},
    {"result": "3", "num": "12", "last": True},
    {"num": "1", "last": True},
    {"num": "-5", "last": True, "error": "negative numbers have no prime factorization"},
    {"last": True},
    {"last": True, "error": "request is not valid JSON"},
    {"last": True, "error": "num must be a whole number without fraction or exponent"},
    {"last": True, "error": "request has an unknown field; only num is allowed"},
    {"last": True, "error": "num is outside the int64 range"},
    {"last": True, "error": "request is longer than the limit"},
    {"result": str(PRIME_NEAR_2_63), "num": str(PRIME_NEAR_2_63), "last": True},
]


def ndjson_case(srv):
    body = NDJSON_BODY.encode()
    r = http_raw(srv.http, (f"POST {NDJSON_PATH} HTTP/1.1\r\nHost: x\r\n"
                            f"Content-Type: application/x-ndjson\r\n"
                            f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
    c = case("POST NDJSON", "post", NDJSON_PATH, r, 200)
    got = [json.loads(line) for line in r.body.decode().splitlines()]
    assert got == NDJSON_ANSWERS
    return c


# A concrete target of each GET route, for the refusals every route shares.
GET_TARGETS = {"/v1/factors/360": FACTORS, "/healthz": "/healthz", "/metrics": "/metrics",
               "/openapi.json": "/openapi.json", "/": "/", "/index.html": "/{file}"}


def refusal_cases(srv, target, path):
    """What pf_http_check_request and the method check refuse, on one GET route."""
    t = target
    return [
        case(f"GET {t} without Host", "get", path, request(srv, f"GET {t} HTTP/1.1\r\n\r\n"),
             400),
        case(f"POST {t}", "post", path, request(
            srv, f"POST {t} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), 405),
        case(f"GET {t}?9000 bytes", "get", path, request(
            srv, f"GET {t}?{'q' * 9000} HTTP/1.1\r\nHost: x\r\n\r\n"), 414),
        case(f"GET {t} with a 9000-byte User-Agent", "get", path, request(
            srv, f"GET {t} HTTP/1.1\r\nHost: x\r\nUser-Agent: {'u' * 9000}\r\n\r\n"), 431),
        case(f"GET {t} HTTP/2.0", "get", path, request(srv, f"GET {t} HTTP/2.0\r\nHost: x\r\n\r\n"),
             505),
    ]


def real_cases(srv):
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    upgrade = (f"GET {NDJSON_PATH} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: {version}\r\n\r\n")
    cases = [
        get_case(srv, "/v1/factors/360", FACTORS, 200),
        get_case(srv, "/v1/factors/0", FACTORS, 200),
        get_case(srv, "/v1/factors/1", FACTORS, 200),
        get_case(srv, f"/v1/factors/{INT64_MAX}", FACTORS, 200),
        get_case(srv, "/v1/factors/-5", FACTORS, 400),
        get_case(srv, "/v1/factors/abc", FACTORS, 400),
        get_case(srv, "/v1/factors/99999999999999999999", FACTORS, 400),
        get_case(srv, "/v1/factors/" + "1" * 65, FACTORS, 400),
        case("HEAD /v1/factors/360", "head", FACTORS, http_raw(
            srv.http, b"HEAD /v1/factors/360 HTTP/1.1\r\nHost: x\r\n\r\n", head_request=True),
            200),
        get_case(srv, "/healthz", "/healthz", 200),
        get_case(srv, "/metrics", "/metrics", 200),
        get_case(srv, "/openapi.json", "/openapi.json", 200),
        get_case(srv, "/", "/", 200),
        get_case(srv, "/index.html", "/{file}", 200),
        get_case(srv, "/app.js", "/{file}", 200),
        get_case(srv, "/style.css", "/{file}", 200),
        get_case(srv, "/favicon.svg", "/{file}", 200),
        get_case(srv, "/nope", "/{file}", 404),
        get_case(srv, "/a/b/c.txt", "/{file}", 404),
        ndjson_case(srv),
        case("POST NDJSON chunked", "post", NDJSON_PATH, request(
            srv, f"POST {NDJSON_PATH} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "4\r\n360\n\r\n0\r\n\r\n"), 411),
        case("POST NDJSON Content-Length: x", "post", NDJSON_PATH, request(
            srv, f"POST {NDJSON_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n"), 400),
        case("POST NDJSON HTTP/3.0", "post", NDJSON_PATH, request(
            srv, f"POST {NDJSON_PATH} HTTP/3.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), 505),
        case("POST NDJSON long header", "post", NDJSON_PATH, request(
            srv, f"POST {NDJSON_PATH} HTTP/1.1\r\nHost: x\r\nUser-Agent: {'c' * 9000}\r\n"
                 "Content-Length: 0\r\n\r\n"), 431),
        case("POST NDJSON long target", "post", NDJSON_PATH, request(
            srv, f"POST {NDJSON_PATH}?{'d' * 9000} HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: 0\r\n\r\n"), 414),
        case("PUT NDJSON", "put", NDJSON_PATH, request(
            srv, f"PUT {NDJSON_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"), 405),
        ws_case(srv, "WebSocket upgrade", 101),
        ws_case(srv, "WebSocket upgrade, same Origin", 101, origin=f"http://{srv.http}"),
        ws_case(srv, "WebSocket upgrade, other Origin", 403, origin="https://evil.example"),
        ws_case(srv, "WebSocket version 12", 426,
                raw=upgrade.format(key=key, version=12)),
        ws_case(srv, "WebSocket short key", 400,
                raw=upgrade.format(key="c2hvcnQ=", version=13)),
        ws_case(srv, "GET of the stream path", 405,
                raw=f"GET {NDJSON_PATH} HTTP/1.1\r\nHost: x\r\n\r\n"),
        ws_case(srv, "WebSocket upgrade, long header", 431,
                raw=upgrade.format(key=key, version=13).replace(
                    "\r\n\r\n", f"\r\nUser-Agent: {'e' * 9000}\r\n\r\n")),
        ws_case(srv, "WebSocket upgrade, long target", 414,
                raw=upgrade.format(key=key, version=13).replace(
                    NDJSON_PATH, f"{NDJSON_PATH}?{'f' * 9000}")),
        ws_case(srv, "WebSocket upgrade HTTP/2.0", 505,
                raw=upgrade.format(key=key, version=13).replace("HTTP/1.1", "HTTP/2.0")),
    ]
    for target, path in GET_TARGETS.items():
        cases += refusal_cases(srv, target, path)
    factors = {c["what"]: json.loads(c["body"]) for c in cases[:4]}
    assert factors["GET /v1/factors/360"] == {"num": "360",
                                              "factors": ["2", "2", "2", "3", "3", "5"]}
    assert factors["GET /v1/factors/0"] == {"num": "0", "factors": []}
    assert factors[f"GET /v1/factors/{INT64_MAX}"]["factors"] == \
        ["7", "7", "73", "127", "337", "92737", "649657"]
    assert json.loads(cases[4]["body"]) == {"error": "negative numbers have no prime factorization"}
    return cases


def check_ok(tmp_path, doc, cases):
    rc, out = run_check(tmp_path, doc, cases)
    assert rc == 0, out
    oks = [line for line in out.splitlines() if line.startswith("ok ")]
    assert len(oks) == len(cases), out


def test_real_responses_match_the_description(pfgate, tmp_path):
    """Every status, Content-Type, required header and body pfgate really answers (a 200 and
    the refusals of each route) is the one the description gives, and every operation it
    describes is among them."""
    doc = json.loads(served(pfgate).body)
    cases = real_cases(pfgate)
    check_ok(tmp_path, doc, cases)
    statuses = {(m, p, s) for p, item in doc["paths"].items() for m, op in item.items()
                for s in op["responses"]}
    seen = set()
    for c in cases:
        item, status = doc["paths"][c["path"]], str(c["status"])
        # As openapi_check.js looks them up: HEAD as GET, a 405 with the path's operations.
        methods = [c["method"]] if c["method"] in item else \
            ["get"] if c["method"] == "head" else [m for m in item if status == "405"]
        seen |= {(m, c["path"], status) for m in methods}
    # 503s: in the drain and the connection reserve (below; out of memory is
    # test_alloc_faults.py's). The page's 404: below too.
    left = {s for s in statuses - seen if s[2] != "503" and s != ("get", "/", "404")}
    assert not left, f"described statuses no test response had: {sorted(left)}"


def test_page_missing_from_web_root_is_described(pfgate_factory, tmp_path):
    """A --web-root without index.html: GET / is the described 404."""
    (tmp_path / "web").mkdir()
    srv = pfgate_factory("--web-root", str(tmp_path / "web"))
    c = get_case(srv, "/", "/", 404)
    assert json.loads(c["body"]) == {"error": "not found"}
    check_ok(tmp_path, json.loads(served(srv).body), [c])


def test_responses_while_draining_match_the_description(pfgate_factory, tmp_path):
    """During a drain (a WebSocket that never reads holds it open): /healthz 503
    NOT_SERVING, new NDJSON streams and WebSocket upgrades 503, all as described."""
    srv = pfgate_factory()
    doc = json.loads(served(srv).body)
    stalled = stalled_websocket(srv.http)
    srv.signal(signal.SIGTERM)
    time.sleep(0.3)
    try:
        assert srv.alive(), "pfgate exited at once although a WebSocket still had answers"
        cases = [
            get_case(srv, "/healthz", "/healthz", 503),
            case("POST NDJSON while draining", "post", NDJSON_PATH, request(
                srv, f"POST {NDJSON_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n360\n"),
                503),
            ws_case(srv, "WebSocket upgrade while draining", 503),
        ]
        assert json.loads(cases[0]["body"]) == {"status": "NOT_SERVING"}
        assert json.loads(cases[1]["body"]) == {"error": "server is shutting down"}
        check_ok(tmp_path, doc, cases)
    finally:
        stalled.abort()
        srv.kill()


def test_connection_reserve_answers_match_the_description(pfgate_factory, tmp_path):
    """--max-connections 1 with a WebSocket held: a new connection lands in the reserve,
    where /healthz and /metrics are answered and every other route is the described 503."""
    srv = pfgate_factory("--max-connections", "1")
    doc = json.loads(served(srv).body)
    held = RawWS(srv.http)
    assert held.status == 101
    time.sleep(0.3)
    try:
        cases = [
            get_case(srv, "/v1/factors/360", FACTORS, 503),
            get_case(srv, "/openapi.json", "/openapi.json", 503),
            get_case(srv, "/", "/", 503),
            get_case(srv, "/app.js", "/{file}", 503),
            case("POST NDJSON in the reserve", "post", NDJSON_PATH, request(
                srv, f"POST {NDJSON_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n360\n"),
                503),
            ws_case(srv, "WebSocket upgrade in the reserve", 503),
            get_case(srv, "/healthz", "/healthz", 200),
            get_case(srv, "/metrics", "/metrics", 200),
        ]
        for c in cases[:6]:
            assert json.loads(c["body"]) == {"error": "too many connections (--max-connections)"}
        check_ok(tmp_path, doc, cases)
    finally:
        held.abort()


def _factors_as_integers(d):
    d["components"]["schemas"]["Factors"]["properties"]["factors"]["items"] = {
        "type": "integer"}


def _healthz_as_text(d):
    content = d["paths"]["/healthz"]["get"]["responses"]["200"]["content"]
    content["text/plain"] = content.pop("application/json")


def _openapi_not_cacheable(d):
    d["paths"]["/openapi.json"]["get"]["responses"]["200"]["headers"]["Cache-Control"][
        "schema"]["const"] = "no-store"


def _ndjson_num_as_integer(d):
    d["components"]["schemas"]["DecimalString"] = {"type": "integer"}


def _no_404(d):
    del d["paths"]["/{file}"]["get"]["responses"]["404"]


@pytest.mark.parametrize("breakage, says", [
    (_factors_as_integers, "FAIL GET /v1/factors/{num} 200 (GET /v1/factors/360): "
                           "/factors/0 must be integer"),
    (_healthz_as_text, 'FAIL GET /healthz 200 (GET /healthz): Content-Type "application/json" '
                       "is not one of text/plain"),
    (_openapi_not_cacheable, "FAIL GET /openapi.json 200 (GET /openapi.json): "
                             "header Cache-Control: (root) must be equal to constant"),
    (_ndjson_num_as_integer, "FAIL POST /primefactor.Factors/PrimeFactors 200 (POST NDJSON): "
                             "line 1: /result must be integer"),
    (_no_404, "FAIL GET /{file} 404 (GET /nope): status 404 is not described"),
])
def test_a_description_that_does_not_match_fails_the_check(pfgate, tmp_path, breakage, says):
    """The response check can fail: a schema, media type, header or status changed in the
    description (still a valid document) no longer matches pfgate's real responses."""
    doc = json.loads(served(pfgate).body)
    breakage(doc)
    rc, out = run_check(tmp_path, doc, real_cases(pfgate))
    assert rc == 1, out
    assert says in out, out


# --------------------------------------------------------------- completeness ---

# What each route of gateway/http/http_router.h is in the description (method, path).
ROUTE_OPERATIONS = {
    "PF_ROUTE_WRONG_METHOD": [],  # a 405 of the other routes
    "PF_ROUTE_NDJSON": [("post", NDJSON_PATH)],
    "PF_ROUTE_FACTORS": [("get", FACTORS)],
    "PF_ROUTE_HEALTHZ": [("get", "/healthz")],
    "PF_ROUTE_METRICS": [("get", "/metrics")],
    "PF_ROUTE_OPENAPI": [("get", "/openapi.json")],
    "PF_ROUTE_FILE": [("get", "/"), ("get", "/{file}")],
}


def c_strings(path):
    """The "/..." string literals of a C file, its macros and service.h's expanded."""
    text = (REPO / path).read_text()
    macros = dict(re.findall(r'#define\s+(\w+)\s+"([^"]*)"',
                             (REPO / "gateway/service.h").read_text() + text))
    text = re.sub(r"#define\s+\w+\s+\"[^\"]*\"", "", text)
    used = set(re.findall(r'"(/[^"]*)"', text))
    used |= {v for k, v in macros.items() if re.search(rf"\b{k}\b", text) and v.startswith("/")}
    return used


def described_as(doc, literal):
    """The described paths a router literal stands for: itself, or, for a prefix that
    ends in '/', the paths that add one template to it."""
    if literal in doc["paths"]:
        return [literal]
    return [p for p in doc["paths"]
            if literal.endswith("/") and re.fullmatch(re.escape(literal) + r"\{\w+\}", p)]


def test_every_route_of_the_router_is_described(pfgate):
    """A route cannot be added silently: every value of enum pf_route, every path the router
    (http_router.c) and the lws mounts (lws_server.c) name, and the WebSocket upgrade
    (ws_front.c) are in the served description."""
    doc = json.loads(served(pfgate).body)
    header = (REPO / "gateway/http/http_router.h").read_text()
    enum = re.search(r"enum pf_route \{(.*?)\};", header, re.S).group(1)
    routes = re.findall(r"^\s*(PF_ROUTE_\w+)", enum, re.M)
    assert sorted(routes) == sorted(ROUTE_OPERATIONS), (
        "enum pf_route changed: describe the new route in docs/openapi.json and add it to "
        f"ROUTE_OPERATIONS here (router: {routes})")
    for route, operations in ROUTE_OPERATIONS.items():
        for method, path in operations:
            assert method in doc["paths"].get(path, {}), f"{route}: {method} {path} not described"

    router_paths = c_strings("gateway/http/http_router.c")
    assert {"/healthz", "/metrics", "/openapi.json", "/v1/factors/", NDJSON_PATH} <= router_paths
    for literal in router_paths:
        assert described_as(doc, literal), f"http_router.c routes {literal}: not described"

    lws = (REPO / "gateway/http/lws_server.c").read_text()
    mounts = re.findall(r'add_callback_mount\(s, \d+, (?:"([^"]*)"|(\w+))\)', lws)
    service = dict(re.findall(r'#define\s+(\w+)\s+"([^"]*)"',
                              (REPO / "gateway/service.h").read_text()))
    mounts = [lit or service[name] for lit, name in mounts]
    assert len(mounts) == 5, mounts
    for m in mounts:
        assert any(p == m or p.startswith(m + "/") for p in doc["paths"]), \
            f"lws_server.c mounts {m}: nothing under it is described"

    assert "PF_STREAM_PATH" in (REPO / "gateway/http/ws_front.c").read_text()
    upgrade = doc["paths"][NDJSON_PATH]["get"]["responses"]
    assert "101" in upgrade and "403" in upgrade, sorted(upgrade)
