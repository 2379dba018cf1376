"""A sweep over every route and method the plugin registers under cloudchat/v1,
read from the REST namespace index so that a new route is covered the day it
is added:

* logged in without the wp_rest nonce: 401;
* a subscriber with a valid nonce: 403; an agent: 403 on the managers' routes;
* an administrator with a nonce and malformed input (wrong types, a missing
  required argument, an id that does not exist, a body that is not JSON):
  400 or 404, never a 5xx;

and CloudChat's tables and options are exactly the same afterwards.

Requests that pass WordPress's argument checks carry valid arguments, because
WordPress checks arguments before permissions: a 401 or 403 then comes from
the permission check itself. Ids are real ones where the site has them."""

import concurrent.futures
import re
import unittest

import cloudchat_e2e as e2e

NAMESPACE = "/cloudchat/v1"
MISSING_ID = "999999"

# The routes docs/wordpress-plugin.md documents; the index must list each.
DOCUMENTED = [
    ("GET", "conversations"), ("GET", "conversations/{id}"), ("POST", "conversations/{id}/read"),
    ("POST", "conversations/{id}/messages"), ("GET", "media/{id}"),
    ("GET", "contacts"), ("POST", "contacts/{id}/tags"), ("POST", "contacts/{id}/consent"),
    ("POST", "contacts/import/preview"), ("POST", "contacts/import"), ("GET", "contacts/{id}/export"),
    ("POST", "contacts/{id}/erase"), ("POST", "contacts/{id}"), ("POST", "contacts/{id}/restriction"),
    ("GET", "templates"), ("POST", "templates/sync"),
    ("GET", "campaigns"), ("POST", "campaigns"), ("GET", "campaigns/{id}"), ("POST", "campaigns/{id}/start"),
    ("POST", "campaigns/{id}/pause"), ("POST", "campaigns/{id}/resume"), ("POST", "campaigns/{id}/cancel"),
    ("POST", "campaigns/{id}/schedule"),
    ("GET", "settings"), ("POST", "settings"), ("POST", "settings/credentials"), ("POST", "settings/test"),
    ("GET", "settings/retention"), ("POST", "settings/retention"),
    ("GET", "health"), ("GET", "daemon"),
]

# What an agent may use (cloudchat_agent); every other route needs cloudchat_manage.
AGENT_ROUTES = {
    ("GET", "conversations"), ("GET", "conversations/{id}"), ("POST", "conversations/{id}/read"),
    ("POST", "conversations/{id}/messages"), ("GET", "media/{id}"),
    ("GET", "contacts"), ("POST", "contacts/{id}/tags"), ("POST", "contacts/{id}/consent"),
    ("GET", "templates"), ("GET", "daemon"),
}

# Values that pass the argument schema, for arguments whose schema alone does not say.
SAMPLE_VALUES = {
    "at": "2030-01-02T09:00",
    "waba_id": "1000001",           # not the site's number: a request that wrongly got through
    "phone_number_id": "1000002",   # must not replace its credentials
    "status": "APPROVED",
    "csv": "phone,name\n+1 555 0100 199,Nobody\n",
    "phone_column": "phone",
    "name_column": "name",
    "audience": {"type": "csv"},
    "daemon_url": "http://127.0.0.1:1",
    "webhook_url": "https://example.test/cloudchat/webhook",
    "state": "opted_in",
}

GROUP = re.compile(r"\(\?P<(\w+)>([^()]*)\)")


class Endpoint:
    """One method of one concrete route (alternatives in the pattern expanded)."""

    def __init__(self, method, pattern, args, choices):
        self.method = method
        self.pattern = pattern
        self.args = args if isinstance(args, dict) else {}
        self.choices = choices            # path group -> the value chosen for this endpoint
        self.path_params = set(choices)
        short = pattern[len(NAMESPACE) + 1:]
        for name, value in choices.items():
            if name != "id":
                short = GROUP.sub(lambda m, n=name, v=value: v if m.group(1) == n else m.group(0), short)
        self.short = GROUP.sub(lambda m: "{" + m.group(1) + "}", short)   # e.g. campaigns/{id}/start

    @property
    def has_id(self):
        return "id" in self.path_params

    def route(self, id_value):
        route = self.pattern
        for name, value in self.choices.items():
            route = GROUP.sub(lambda m, n=name, v=(id_value if name == "id" else value): v if m.group(1) == n else m.group(0), route)
        if "(?P<" in route:
            raise AssertionError(f"cannot fill every group of {self.pattern}")
        return route

    def __str__(self):
        return f"{self.method} {self.short}"


def expand(pattern, endpoint_args, methods):
    """The concrete endpoints of one index entry."""
    groups = GROUP.findall(pattern)
    variants = [{}]
    for name, regex in groups:
        if name == "id" or regex in (r"\d+", "[0-9]+"):
            values = ["{id}"]
        elif re.fullmatch(r"[A-Za-z_]+(\|[A-Za-z_]+)*", regex):
            values = regex.split("|")
        else:
            raise AssertionError(f"the sweep does not know how to fill (?P<{name}>{regex}) in {pattern}; teach it")
        variants = [dict(variant, **{name: value}) for variant in variants for value in values]
    return [Endpoint(method, pattern, endpoint_args, variant) for method in methods for variant in variants]


class RestSecurityTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        e2e.ensure_site_configured()
        cls.admin = e2e.session("admin")
        cls.agent = e2e.session("agent")
        cls.subscriber = e2e.session("subscriber")
        index = cls.admin.rest("GET", NAMESPACE)
        if index.status != 200:
            raise AssertionError(f"the namespace index {NAMESPACE}: {index!r}")
        cls.endpoints = []
        for pattern, route in index.json().get("routes", {}).items():
            if pattern == NAMESPACE:
                continue   # WordPress's own index of the namespace
            for endpoint in route.get("endpoints", []):
                cls.endpoints.extend(expand(pattern, endpoint.get("args"), endpoint.get("methods", [])))
        cls.real_ids = {
            segment: e2e.sql_value(f"SELECT MIN(id) FROM wp_cloudchat_{segment}")
            for segment in ("conversations", "contacts", "campaigns", "media")
        }
        cls.account_id = str(e2e.account_id())
        cls.template_id = e2e.sql_value("SELECT id FROM wp_cloudchat_templates WHERE name = 'hello_world' ORDER BY id LIMIT 1") or "1"
        cls.state_before = e2e.settled_cloudchat_state()

    # -- building requests

    def real_id(self, endpoint):
        return self.real_ids.get(endpoint.short.split("/")[0]) or MISSING_ID

    def valid_value(self, name, schema):
        if name in ("account_id",):
            return int(self.account_id)
        if name in ("template_id",):
            return int(self.template_id)
        if name in SAMPLE_VALUES:
            return SAMPLE_VALUES[name]
        if "enum" in schema:
            return next((value for value in schema["enum"] if value != ""), schema["enum"][0])
        kind = schema.get("type")
        kind = kind[0] if isinstance(kind, list) else kind
        if kind == "integer":
            return int(schema.get("minimum", 1))
        if kind == "number":
            return float(schema.get("minimum", 1))
        if kind == "boolean":
            return True
        if kind == "array":
            return ["e2e"]
        if kind == "object":
            return {}
        if schema.get("format") == "uri":
            return "https://example.test/"
        return "e2e"

    @staticmethod
    def wrong_value(schema, in_query):
        """A value of the wrong type for the schema, or None when none exists."""
        kind = schema.get("type")
        if isinstance(kind, list) or kind is None:
            return None
        return {
            "integer": "not-a-number",
            "number": "not-a-number",
            "boolean": "maybe",
            "string": ["not", "a", "string"],
            "array": {"not": {"a": "list"}} if not in_query else None,
            "object": "not-an-object",
        }.get(kind)

    def valid_args(self, endpoint, only_required=True):
        values = {}
        for name, schema in endpoint.args.items():
            if name in endpoint.path_params or not isinstance(schema, dict):
                continue
            if schema.get("required") or not only_required:
                values[name] = self.valid_value(name, schema)
        return values

    def send(self, session, endpoint, id_value, values, nonce=True, raw_body=None):
        route = endpoint.route(id_value)
        if endpoint.method in ("GET", "HEAD", "DELETE"):
            query = {}
            for name, value in values.items():
                if isinstance(value, list):
                    query[name + "[]"] = [str(item) for item in value]
                elif isinstance(value, dict):
                    for key, item in value.items():
                        query[f"{name}[{key}]"] = str(item)
                elif isinstance(value, bool):
                    query[name] = "true" if value else "false"
                else:
                    query[name] = str(value)
            return session.rest(endpoint.method, route, query=query, nonce=nonce)
        return session.rest(endpoint.method, route, body=values, nonce=nonce, raw_body=raw_body)

    def sweep(self, cases):
        """Runs (description, expected statuses, request thunk) cases four at a
        time; returns the descriptions of those that answered otherwise."""
        def run(case):
            description, expected, request = case
            answer = request()
            if answer.status in expected:
                return None
            return f"{description}: expected {'/'.join(map(str, sorted(expected)))}, got {answer!r}"
        with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
            problems = [problem for problem in pool.map(run, cases) if problem]
        print(f"\n  ({len(cases)} requests)", end=" ", flush=True)
        return problems

    def assert_no_problems(self, problems, cases):
        if problems:
            self.fail(f"{len(problems)} of {len(cases)} requests answered wrongly:\n  " + "\n  ".join(problems))

    # -- the sweep

    def test_1_index_lists_every_documented_route(self):
        listed = {(endpoint.method, endpoint.short) for endpoint in self.endpoints}
        missing = [f"{method} {path}" for method, path in DOCUMENTED if (method, path) not in listed]
        self.assertFalse(missing, f"routes the contract documents are not registered: {missing}; listed: {sorted(listed)}")

    def test_2_logged_in_without_nonce_is_401(self):
        cases = [(f"{endpoint} as admin without a nonce", {401},
                  lambda e=endpoint: self.send(self.admin, e, self.real_id(e), self.valid_args(e), nonce=False))
                 for endpoint in self.endpoints]
        self.assert_no_problems(self.sweep(cases), cases)

    def test_3_subscriber_is_403(self):
        cases = [(f"{endpoint} as subscriber", {403},
                  lambda e=endpoint: self.send(self.subscriber, e, self.real_id(e), self.valid_args(e)))
                 for endpoint in self.endpoints]
        self.assert_no_problems(self.sweep(cases), cases)

    def test_4_agent_is_403_on_managers_routes(self):
        manage = [endpoint for endpoint in self.endpoints if (endpoint.method, endpoint.short) not in AGENT_ROUTES]
        self.assertTrue(manage, "no managers' routes found")
        cases = [(f"{endpoint} as agent", {403},
                  lambda e=endpoint: self.send(self.agent, e, self.real_id(e), self.valid_args(e)))
                 for endpoint in manage]
        # The agent's own reading routes answer, so the 403s above are about capabilities.
        reads = [endpoint for endpoint in self.endpoints
                 if (endpoint.method, endpoint.short) in AGENT_ROUTES and endpoint.method == "GET"]
        cases += [(f"{endpoint} as agent (allowed)", {200, 404} if endpoint.has_id else {200},
                   lambda e=endpoint: self.send(self.agent, e, self.real_id(e), self.valid_args(e)))
                  for endpoint in reads]
        self.assert_no_problems(self.sweep(cases), cases)

    def test_5_malformed_input_is_400_or_404(self):
        cases = []
        skipped = []
        bad = {400, 404}
        for endpoint in self.endpoints:
            before = len(cases)
            real = self.real_id(endpoint)
            base = self.valid_args(endpoint)
            in_query = endpoint.method in ("GET", "HEAD", "DELETE")
            for name, schema in endpoint.args.items():
                if name in endpoint.path_params or not isinstance(schema, dict):
                    continue
                wrong = self.wrong_value(schema, in_query)
                if wrong is not None:
                    values = dict(base, **{name: wrong})
                    cases.append((f"{endpoint} with {name}={wrong!r}", bad,
                                  lambda e=endpoint, v=values, r=real: self.send(self.admin, e, r, v)))
                if schema.get("required"):
                    values = {key: value for key, value in base.items() if key != name}
                    cases.append((f"{endpoint} without the required {name}", bad,
                                  lambda e=endpoint, v=values, r=real: self.send(self.admin, e, r, v)))
                if name.endswith("_id") and schema.get("type") == "integer":
                    values = dict(self.valid_args(endpoint, only_required=False), **{name: int(MISSING_ID)})
                    values = {key: value for key, value in values.items() if key in base or key == name}
                    cases.append((f"{endpoint} with {name}={MISSING_ID}, which does not exist", bad,
                                  lambda e=endpoint, v=values, r=real: self.send(self.admin, e, r, v)))
            if endpoint.has_id:
                cases.append((f"{endpoint} for id {MISSING_ID}, which does not exist", bad,
                              lambda e=endpoint, v=base: self.send(self.admin, e, MISSING_ID, v)))
                cases.append((f"{endpoint} for id 0", bad,
                              lambda e=endpoint, v=base: self.send(self.admin, e, "0", v)))
            if not in_query:
                cases.append((f"{endpoint} with a body that is not JSON", bad,
                               lambda e=endpoint, r=real: self.send(self.admin, e, r, {}, raw_body=b'{"text": "unfinished')))
            if len(cases) == before:
                skipped.append(str(endpoint))
        problems = self.sweep(cases)
        if skipped:
            print(f"\n  (no malformed input exists for {', '.join(skipped)}: they take no arguments)")
        self.assert_no_problems(problems, cases)

    def test_9_nothing_changed(self):
        after = e2e.settled_cloudchat_state()
        changes = e2e.state_difference(self.state_before, after)
        if changes:
            self.fail("the sweep changed CloudChat's data:\n  " + "\n  ".join(changes))


if __name__ == "__main__":
    unittest.main()
