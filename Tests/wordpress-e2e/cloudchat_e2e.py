"""What the WordPress end-to-end tests share: settings, HTTP sessions logged in
to WordPress, the database, the Graph API simulator and the browser.

Settings come from the environment that scripts/test-wordpress.sh exports
(CLOUDCHAT_WP_* from scripts/wordpress-dev.sh env, CLOUDCHAT_E2E_* for the
simulator and the daemon). Only the standard library and selenium are used.
"""

from http import cookiejar
import json
import os
import re
import shlex
import signal
import subprocess
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

# A customer who writes to the business number (test C) and appears in the
# contacts list (test E). The simulator is fresh for every run.
CUSTOMER_WA_ID = "16505550188"
CUSTOMER_NAME = "Grace Hopper"
CUSTOMER_TEXT = "Hello! Is my order on its way?"

# Each run's texts and names carry this, so nothing from another run can match.
RUN_ID = time.strftime("%H%M%S")


def env(name):
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set; run these tests with scripts/test-wordpress.sh")
    return value


class Settings:
    """Everything the tests need to know, read once."""

    def __init__(self):
        self.site_url = env("CLOUDCHAT_WP_URL").rstrip("/")
        self.site_dir = env("CLOUDCHAT_WP_DIR")
        self.users = {
            "admin": (env("CLOUDCHAT_WP_ADMIN_USER"), env("CLOUDCHAT_WP_ADMIN_PASSWORD")),
            "agent": (env("CLOUDCHAT_WP_AGENT_USER"), env("CLOUDCHAT_WP_AGENT_PASSWORD")),
            "subscriber": (env("CLOUDCHAT_WP_SUBSCRIBER_USER"), env("CLOUDCHAT_WP_SUBSCRIBER_PASSWORD")),
        }
        self.db_socket = env("CLOUDCHAT_WP_DB_SOCKET")
        self.db_name = env("CLOUDCHAT_WP_DB_NAME")
        self.db_user = env("CLOUDCHAT_WP_DB_USER")
        self.db_password = env("CLOUDCHAT_WP_DB_PASSWORD")
        self.debug_log = env("CLOUDCHAT_WP_DEBUG_LOG")
        self.simulator_url = env("CLOUDCHAT_E2E_SIMULATOR_URL").rstrip("/")
        self.daemon_url = env("CLOUDCHAT_E2E_DAEMON_URL").rstrip("/")
        self.control_url = env("CLOUDCHAT_E2E_CONTROL_URL").rstrip("/")
        self.control_secret = env("CLOUDCHAT_E2E_CONTROL_SECRET")
        self.phone_number_id = env("CLOUDCHAT_E2E_PHONE_NUMBER_ID")
        self.waba_id = env("CLOUDCHAT_E2E_WABA_ID")
        self.display_number = env("CLOUDCHAT_E2E_DISPLAY_NUMBER")
        self.access_token = env("CLOUDCHAT_E2E_ACCESS_TOKEN")
        self.app_secret = env("CLOUDCHAT_E2E_APP_SECRET")
        self.artifacts = env("CLOUDCHAT_E2E_ARTIFACTS")
        os.makedirs(self.artifacts, exist_ok=True)


_settings = None


def settings():
    global _settings
    if _settings is None:
        _settings = Settings()
    return _settings


# ---------------------------------------------------------------------------
# Waiting


def wait_until(condition, timeout, message, interval=0.2):
    """Calls condition() until it returns something truthy; returns that, or
    fails with message (a string, or a function giving one) after timeout seconds."""
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except AssertionError:
            raise
        except Exception as error:  # noqa: BLE001 - reported if the wait times out
            last_error = error
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            if last_error is not None:
                text += f" (last error: {last_error!r})"
            raise AssertionError(f"after {timeout:g} s: {text}")
        time.sleep(interval)


# ---------------------------------------------------------------------------
# HTTP


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as error:
            raise AssertionError(f"not JSON (HTTP {self.status}): {self.text[:500]}") from error

    def __repr__(self):
        return f"HTTP {self.status}: {self.text[:300]}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _open(opener, request, timeout=30):
    try:
        with opener.open(request, timeout=timeout) as answer:
            return Response(answer.status, answer.headers, answer.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers, error.read())


def http(method, url, body=None, headers=None, timeout=30):
    """One request without cookies; JSON bodies for dicts and lists."""
    headers = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        headers.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    return _open(urllib.request.build_opener(_NoRedirect), request, timeout)


def rest_url(route, query=None):
    """A REST URL in the form that works without pretty permalinks."""
    params = {"rest_route": route}
    params.update(query or {})
    return f"{settings().site_url}/index.php?" + urllib.parse.urlencode(params, doseq=True)


class WordPressSession:
    """A user logged in to WordPress over HTTP, with a cookie jar and a REST nonce."""

    def __init__(self, role):
        self.role = role
        self.login, self.password = settings().users[role]
        self.jar = cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect)
        self._log_in()
        self.nonce = self._fetch_nonce()

    def _log_in(self):
        site = settings().site_url
        # WordPress sets wordpress_test_cookie on the login page and wants it back.
        _open(self.opener, urllib.request.Request(f"{site}/wp-login.php"))
        form = urllib.parse.urlencode({
            "log": self.login,
            "pwd": self.password,
            "wp-submit": "Log In",
            "testcookie": "1",
            "redirect_to": f"{site}/wp-admin/",
        }).encode()
        answer = _open(self.opener, urllib.request.Request(f"{site}/wp-login.php", data=form, method="POST"))
        names = [cookie.name for cookie in self.jar]
        if answer.status != 302 or not any(name.startswith("wordpress_logged_in_") for name in names):
            raise AssertionError(f"logging in as {self.login} failed: {answer!r}; cookies {names}")

    def _fetch_nonce(self):
        answer = self.get_page("wp-admin/admin-ajax.php?action=rest-nonce")
        nonce = answer.text.strip()
        if answer.status != 200 or not re.fullmatch(r"[0-9a-f]{10}", nonce):
            raise AssertionError(f"no REST nonce for {self.login}: {answer!r}")
        return nonce

    def get_page(self, path):
        return _open(self.opener, urllib.request.Request(f"{settings().site_url}/{path}"))

    def rest(self, method, route, body=None, query=None, nonce=True, raw_body=None):
        """A REST call with this user's cookies; with the nonce unless nonce is False."""
        headers = {"Accept": "application/json"}
        if nonce:
            headers["X-WP-Nonce"] = self.nonce
        data = None
        if raw_body is not None:
            data = raw_body
            headers["Content-Type"] = "application/json"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(rest_url(route, query), data=data, method=method, headers=headers)
        return _open(self.opener, request)


_sessions = {}


def session(role):
    """A cached logged-in session per role."""
    if role not in _sessions:
        _sessions[role] = WordPressSession(role)
    return _sessions[role]


# ---------------------------------------------------------------------------
# Database (the mariadb command-line client over the socket)


def sql(query):
    """Runs SQL in the site's database; returns the rows as lists of strings (NULL as None)."""
    s = settings()
    result = subprocess.run(
        ["mariadb", "--no-defaults", f"--socket={s.db_socket}", f"--user={s.db_user}",
         "--batch", "--skip-column-names", "--raw", s.db_name, "-e", query],
        env=dict(os.environ, MYSQL_PWD=s.db_password), capture_output=True, text=True, timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(f"SQL failed: {query}\n{result.stderr.strip()}")
    rows = []
    for line in result.stdout.splitlines():
        rows.append([None if cell == "NULL" else cell for cell in line.split("\t")])
    return rows


def sql_value(query):
    rows = sql(query)
    return rows[0][0] if rows else None


def quote(value):
    """A SQL string literal (for the few values the tests put in queries)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def database_dump():
    """The whole site database as SQL (bytes: encrypted columns are binary)."""
    s = settings()
    result = subprocess.run(
        ["mariadb-dump", "--no-defaults", f"--socket={s.db_socket}", f"--user={s.db_user}",
         "--skip-dump-date", "--single-transaction", s.db_name],
        env=dict(os.environ, MYSQL_PWD=s.db_password), capture_output=True, timeout=120,
    )
    if result.returncode != 0:
        raise AssertionError(f"mariadb-dump failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout


# Tables the daemon writes on its own while idle: lease renewals.
TABLES_THE_DAEMON_RENEWS = {"wp_cloudchat_leases"}


def cloudchat_state():
    """A checksum of every wp_cloudchat_% table (CHECKSUM TABLE) but the lease
    table, and the value of every cloudchat_% option."""
    tables = [row[0] for row in sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
        "AND table_name LIKE 'wp\\_cloudchat\\_%' ORDER BY table_name")]
    if not tables:
        raise AssertionError("no wp_cloudchat_% tables: did cloudchatd migrate run?")
    checked = [table for table in tables if table not in TABLES_THE_DAEMON_RENEWS]
    state = {}
    for name, checksum in sql("CHECKSUM TABLE " + ", ".join(f"`{table}`" for table in checked)):
        state["table " + name.split(".", 1)[-1]] = checksum
    for name, digest in sql(
            "SELECT option_name, MD5(option_value) FROM wp_options "
            "WHERE option_name LIKE 'cloudchat\\_%' ORDER BY option_name"):
        state["option " + name] = digest
    return state


def settled_cloudchat_state(timeout=30):
    """The state once the simulator has no webhooks left to post and two readings
    a second apart agree (status webhooks and their processing are over)."""
    def quiet():
        stats = simulator_stats()["webhooks"]
        return stats.get("waiting", 0) == 0 and stats.get("in_flight", 0) == 0
    wait_until(quiet, timeout, "the simulator still has webhooks to post")
    previous = {"state": cloudchat_state()}

    def stable():
        time.sleep(1)
        current = cloudchat_state()
        if current == previous["state"]:
            return current
        previous["state"] = current
        return None
    return wait_until(stable, timeout, "CloudChat's tables keep changing while nothing is asked of them", interval=0)


def state_difference(before, after):
    keys = sorted(set(before) | set(after))
    return [f"{key}: {before.get(key)} -> {after.get(key)}" for key in keys if before.get(key) != after.get(key)]


# ---------------------------------------------------------------------------
# The Graph API simulator


def simulator_stats():
    answer = http("GET", settings().simulator_url + "/_simulator/stats")
    if answer.status != 200:
        raise AssertionError(f"simulator stats: {answer!r}")
    return answer.json()


def simulator_received(to):
    answer = http("GET", settings().simulator_url + "/_simulator/received?" + urllib.parse.urlencode({"to": to}))
    if answer.status != 200:
        raise AssertionError(f"simulator received: {answer!r}")
    return answer.json()


def simulator_inbound(wa_id, name, text):
    answer = http("POST", settings().simulator_url + "/_simulator/inbound", {
        "from": wa_id, "name": name, "type": "text", "text": text,
        "phone_number_id": settings().phone_number_id,
    })
    if answer.status != 200:
        raise AssertionError(f"the simulator could not post the inbound message: {answer!r}")
    return answer.json()


# ---------------------------------------------------------------------------
# cloudchatd, stopped and started again by the outage test


def _daemon_pid():
    with open(env("CLOUDCHAT_E2E_DAEMON_PID_FILE")) as file:
        return int(file.read().strip())


def _process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A finished child of another process lingers as a zombie until reaped.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_daemon(timeout=15):
    """Stops cloudchatd with SIGTERM, as systemd would, and waits for it to exit."""
    pid = _daemon_pid()
    if not _process_alive(pid):
        raise AssertionError(f"cloudchatd (pid {pid}) is not running")
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not _process_alive(pid), timeout, f"cloudchatd (pid {pid}) did not exit after SIGTERM")
    wait_until(lambda: _refused(settings().control_url + "/v1/status"), 5,
               "the control API still answers after cloudchatd exited")


def _refused(url):
    try:
        urllib.request.urlopen(url, timeout=2)
    except urllib.error.HTTPError:
        return False
    except (urllib.error.URLError, ConnectionError):
        return True
    return False


def start_daemon(timeout=30):
    """Starts cloudchatd again with the harness's command line; its pid replaces
    the old one in the pid file, so the harness stops it at the end."""
    with open(env("CLOUDCHAT_E2E_DAEMON_LOG"), "ab") as log:
        # The harness runs the daemon without capabilities (setpriv), as systemd does.
        prefix = shlex.split(os.environ.get("CLOUDCHAT_E2E_DAEMON_PREFIX", ""))
        process = subprocess.Popen(
            prefix + [env("CLOUDCHAT_E2E_DAEMON_BIN"), "serve", "--config", env("CLOUDCHAT_E2E_DAEMON_CONFIG"),
             "--wordpress", settings().site_dir, "--log-level", "info"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    with open(env("CLOUDCHAT_E2E_DAEMON_PID_FILE"), "w") as file:
        file.write(f"{process.pid}\n")

    def ready():
        if process.poll() is not None:
            raise AssertionError(f"cloudchatd exited with {process.returncode} while starting; see {env('CLOUDCHAT_E2E_DAEMON_LOG')}")
        return http("GET", settings().daemon_url + "/readyz", timeout=2).status == 200
    wait_until(ready, timeout, "cloudchatd did not get ready after the restart")
    return process.pid


# ---------------------------------------------------------------------------
# Site set-up without the browser, for tests run on their own


def ensure_site_configured():
    """The daemon URL, control secret, business number and synced templates, as
    test_settings_templates sets them through the screens; done over REST only
    when missing."""
    s = settings()
    admin = session("admin")
    current = admin.rest("GET", "/cloudchat/v1/settings")
    if current.status != 200:
        raise AssertionError(f"GET settings as admin: {current!r}")
    data = current.json()
    if data.get("daemon_url") != s.control_url or not data.get("control_secret_set"):
        answer = admin.rest("POST", "/cloudchat/v1/settings", {"daemon_url": s.control_url, "control_secret": s.control_secret})
        if answer.status != 200:
            raise AssertionError(f"POST settings: {answer!r}")
    if not sql_value(f"SELECT id FROM wp_cloudchat_accounts WHERE phone_number_id = {quote(s.phone_number_id)}"):
        answer = admin.rest("POST", "/cloudchat/v1/settings/credentials", {
            "waba_id": s.waba_id, "phone_number_id": s.phone_number_id, "access_token": s.access_token,
            "app_secret": s.app_secret, "label": "E2E number",
        })
        if answer.status not in (200, 201):
            raise AssertionError(f"POST settings/credentials: {answer!r}")
    if not sql_value("SELECT id FROM wp_cloudchat_templates WHERE name = 'hello_world' AND status = 'APPROVED'"):
        answer = admin.rest("POST", "/cloudchat/v1/templates/sync")
        if answer.status != 200:
            raise AssertionError(f"POST templates/sync: {answer!r}")
    return account_id()


def account_id():
    value = sql_value(f"SELECT id FROM wp_cloudchat_accounts WHERE phone_number_id = {quote(settings().phone_number_id)}")
    if not value:
        raise AssertionError(f"no wp_cloudchat_accounts row for {settings().phone_number_id}")
    return int(value)


def customer_contact_id(timeout=20):
    """The customer's contact id, once their inbound message has been processed."""
    return int(wait_until(
        lambda: sql_value(f"SELECT id FROM wp_cloudchat_contacts WHERE wa_id = {quote(CUSTOMER_WA_ID)}"),
        timeout, f"no contact for {CUSTOMER_WA_ID} in wp_cloudchat_contacts: did cloudchatd process the webhook?"))


def ensure_customer_wrote():
    """The customer's message in the site, posting it when test_inbox has not."""
    ensure_site_configured()
    if not sql_value(f"SELECT id FROM wp_cloudchat_contacts WHERE wa_id = {quote(CUSTOMER_WA_ID)}"):
        simulator_inbound(CUSTOMER_WA_ID, CUSTOMER_NAME, CUSTOMER_TEXT)
    return customer_contact_id()


# ---------------------------------------------------------------------------
# The browser


def new_browser():
    """Headless Chromium from Debian's packages; never downloads a driver."""
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--window-size=1400,1000",
                     "--disable-dev-shm-usage", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    return driver


class BrowserTestCase(unittest.TestCase):
    """A test class with one browser; helpers log in, wait and take screenshots."""

    driver = None

    @classmethod
    def setUpClass(cls):
        cls.settings = settings()
        cls.driver = new_browser()

    @classmethod
    def tearDownClass(cls):
        if cls.driver is not None:
            cls.driver.quit()
            cls.driver = None

    # -- navigation

    def log_in(self, role):
        from selenium.webdriver.common.by import By

        login, password = self.settings.users[role]
        self.driver.delete_all_cookies()
        self.driver.get(self.settings.site_url + "/wp-login.php")
        self.wait_for_css("#user_login")
        # WordPress focuses the field after load; type once it holds still.
        user_field = self.driver.find_element(By.ID, "user_login")
        user_field.clear()
        user_field.send_keys(login)
        password_field = self.driver.find_element(By.ID, "user_pass")
        password_field.clear()
        password_field.send_keys(password)
        self.driver.find_element(By.ID, "wp-submit").click()
        self.wait(lambda d: "/wp-admin/" in d.current_url and d.find_elements(By.ID, "wpadminbar"),
                  f"logging in as {login} did not reach wp-admin", timeout=30)

    def open_admin_page(self, page):
        self.driver.get(f"{self.settings.site_url}/wp-admin/admin.php?page={page}")

    # -- waiting

    def wait(self, condition, message, timeout=20):
        """Waits for condition(driver); on timeout saves a screenshot and fails
        with message, the page's URL, its notices and the browser's errors."""
        from selenium.common.exceptions import StaleElementReferenceException, NoSuchElementException

        deadline = time.monotonic() + timeout
        while True:
            try:
                value = condition(self.driver)
                if value:
                    return value
            except (StaleElementReferenceException, NoSuchElementException):
                pass
            if time.monotonic() >= deadline:
                self.fail(self._explain(message, timeout))
            time.sleep(0.2)

    def wait_for_css(self, selector, timeout=20, visible=False, enabled=False):
        from selenium.webdriver.common.by import By

        def found(driver):
            elements = driver.find_elements(By.CSS_SELECTOR, selector)
            if visible:
                elements = [element for element in elements if element.is_displayed()]
            if enabled:
                elements = [element for element in elements if element.is_enabled()]
            return elements[0] if elements else None
        state = ("visible " if visible else "") + ("enabled " if enabled else "")
        return self.wait(found, f"no {state}element matches {selector!r}", timeout)

    def _explain(self, message, timeout):
        from selenium.webdriver.common.by import By

        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", self.id().split(".", 1)[-1])
        path = os.path.join(self.settings.artifacts, f"failure-{name}.png")
        details = [f"after {timeout:g} s: {message() if callable(message) else message}"]
        try:
            self.driver.save_screenshot(path)
            details.append(f"screenshot: {path}")
            details.append(f"page: {self.driver.current_url}")
            notices = [n.text.strip() for n in self.driver.find_elements(
                By.CSS_SELECTOR, ".notice, .cloudchat-notice, #login_error, .wp-die-message") if n.text.strip()]
            if notices:
                details.append("notices on the page: " + " | ".join(notices)[:1500])
            errors = [entry["message"] for entry in self.driver.get_log("browser") if entry.get("level") == "SEVERE"]
            if errors:
                details.append("browser errors: " + " | ".join(errors)[:1500])
        except Exception as error:  # noqa: BLE001 - the explanation must not hide the failure
            details.append(f"(could not inspect the page: {error!r})")
        return "\n  ".join(details)

    # -- the inbox

    def conversation_item(self, name):
        """The inbox list's entry for a contact, or None."""
        from selenium.webdriver.common.by import By

        for item in self.driver.find_elements(By.CSS_SELECTOR, ".cloudchat-conversation"):
            if name in item.text:
                return item
        return None

    def open_conversation(self, name):
        self.wait(lambda d: self.conversation_item(name), f"no .cloudchat-conversation for {name} in the inbox", timeout=20)
        # The list is re-rendered as it polls; click whichever element shows the conversation now.
        self.wait(lambda d: self.conversation_item(name).click() or True, f"could not open the conversation with {name}", timeout=10)

    def outbound_message(self, text):
        """The open thread's outbound message whose body holds text, or None."""
        from selenium.webdriver.common.by import By

        for message in self.driver.find_elements(By.CSS_SELECTOR, '.cloudchat-message[data-direction="outbound"]'):
            bodies = message.find_elements(By.CSS_SELECTOR, ".cloudchat-message-body")
            if bodies and text in bodies[0].text:
                return message
        return None

    def outbound_status(self, text):
        message = self.outbound_message(text)
        return message.get_attribute("data-status") if message is not None else None

    def send_reply(self, text):
        from selenium.webdriver.common.by import By

        field = self.wait_for_css("#cloudchat-reply-text", visible=True, enabled=True)
        field.send_keys(text)
        self.driver.find_element(By.CSS_SELECTOR, "#cloudchat-reply-send").click()
        self.wait(lambda d: self.outbound_message(text), "the reply does not appear in the thread", timeout=15)

    # -- screenshots

    def screenshot(self, name):
        path = os.path.join(self.settings.artifacts, name + ".png")
        self.assertTrue(self.driver.save_screenshot(path), f"could not save the screenshot {path}")
        return path
