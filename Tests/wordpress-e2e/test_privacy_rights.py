"""A contact's rights through wp-admin's real screens: an administrator corrects
a contact's name and email and restricts them on the Contacts screen; then a
WordPress user whose billing phone is a WhatsApp contact's number asks for their
data, and Tools → Export Personal Data includes CloudChat's document while
Tools → Erase Personal Data erases the contact through cloudchatd (files and
raw webhooks too). With cloudchatd stopped, the erasure reports the data as
kept, with what to do, and erases nothing."""

import json
import os
import time
import unittest
import zipfile

from selenium.webdriver.common.by import By

import cloudchat_e2e as e2e

# Two people, unique to this run: one is corrected and restricted, one exercises
# WordPress's privacy tools.
KEPT_WA_ID = f"1555{e2e.RUN_ID}2"
KEPT_NAME = f"Kept Person {e2e.RUN_ID}"
ERASED_WA_ID = f"1555{e2e.RUN_ID}1"
ERASED_NAME = f"Priya Privacy {e2e.RUN_ID}"
ERASED_TEXT = f"my private words {e2e.RUN_ID}"
# The number as the person typed it into their WordPress profile.
ERASED_BILLING_PHONE = f"+1 (555) {e2e.RUN_ID[:3]}-{e2e.RUN_ID[3:]}1"
USER_LOGIN = f"priya{e2e.RUN_ID}"
USER_EMAIL = f"priya.{e2e.RUN_ID}@example.test"


def contact_row(wa_id):
    rows = e2e.sql(f"SELECT id, name, email, restricted_at, consent_state FROM wp_cloudchat_contacts WHERE wa_id = {e2e.quote(wa_id)}")
    return rows[0] if rows else None


def wait_for_contact(wa_id, name, text):
    """The person's contact, after their one message (posted the first time only)."""
    if contact_row(wa_id) is None:
        e2e.simulator_inbound(wa_id, name, text)
    return int(e2e.wait_until(lambda: (contact_row(wa_id) or [None])[0], 20,
                              f"no contact for {wa_id}: did cloudchatd process the webhook?"))


class PrivacyRightsTest(e2e.BrowserTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        e2e.ensure_site_configured()
        cls.logged_in = False

    def setUp(self):
        if not type(self).logged_in:
            self.log_in("admin")
            type(self).logged_in = True

    # -- the Contacts screen

    def find_row(self, wa_id):
        for row in self.driver.find_elements(By.CSS_SELECTOR, "tr.cloudchat-contact"):
            if wa_id in "".join(ch for ch in row.text if ch.isdigit()):
                return row
        return None

    def open_contact(self, wa_id):
        self.open_admin_page("cloudchat-contacts")
        search = self.wait_for_css("#cloudchat-contacts input[type=search]", visible=True)
        search.clear()
        search.send_keys(wa_id)

        def settled(driver):
            # Each keystroke may redraw the list; wait until only this contact's row is
            # left and has stayed the same element for a second.
            rows = driver.find_elements(By.CSS_SELECTOR, "tr.cloudchat-contact")
            if len(rows) != 1 or self.find_row(wa_id) is None:
                return None
            first = rows[0]
            time.sleep(1)
            rows = driver.find_elements(By.CSS_SELECTOR, "tr.cloudchat-contact")
            return first if rows and rows[0] == first else None
        return self.wait(settled, f"the search does not settle on the tr.cloudchat-contact for {wa_id}", timeout=20)

    def test_1_correction_and_restriction_on_the_contacts_screen(self):
        contact_id = wait_for_contact(KEPT_WA_ID, KEPT_NAME, "hello from a kept person")
        row = self.open_contact(KEPT_WA_ID)
        row.find_element(By.CSS_SELECTOR, ".cloudchat-correct").click()
        form = self.wait(lambda d: self.find_row(KEPT_WA_ID).find_element(By.CSS_SELECTOR, ".cloudchat-correct-form:not([hidden])"),
                         "the correction form does not open")
        for name, value in (("name", "Corrected Name"), ("email", f"kept.{e2e.RUN_ID}@example.test"), ("locale", "pt_BR")):
            field = form.find_element(By.CSS_SELECTOR, f"input[name={name}]")
            field.clear()
            field.send_keys(value)
        self.screenshot("contacts-correct")
        form.find_element(By.CSS_SELECTOR, ".cloudchat-save-correction").click()
        self.wait(lambda d: "Corrected Name" in (self.find_row(KEPT_WA_ID).text or ""), "the corrected name is not shown")
        row = contact_row(KEPT_WA_ID)
        self.assertEqual(row[1], "Corrected Name")
        self.assertEqual(row[2], f"kept.{e2e.RUN_ID}@example.test")
        self.assertEqual(e2e.sql_value(f"SELECT locale FROM wp_cloudchat_contacts WHERE id = {contact_id}"), "pt_BR")
        audit = e2e.sql_value(f"SELECT details_json FROM wp_cloudchat_audit_log WHERE action = 'contact.corrected' AND object_id = {contact_id} ORDER BY id DESC LIMIT 1")
        self.assertEqual(json.loads(audit), {"fields": ["name", "email", "locale"]})

        # Restrict, confirming the question; the row says so, and campaigns skip the contact.
        self.find_row(KEPT_WA_ID).find_element(By.CSS_SELECTOR, ".cloudchat-restrict").click()
        self.driver.switch_to.alert.accept()
        self.wait(lambda d: "is-restricted" in (self.find_row(KEPT_WA_ID).get_attribute("class") or ""), "the row is not marked restricted")
        self.assertIn("Restricted from automated messages", self.find_row(KEPT_WA_ID).text)
        self.assertIsNotNone(contact_row(KEPT_WA_ID)[3], "restricted_at is not set")
        self.assertEqual(e2e.sql_value(f"SELECT COUNT(*) FROM wp_cloudchat_consent_events WHERE contact_id = {contact_id} AND event = 'restricted' AND source = 'agent'"), "1")
        self.assertEqual(e2e.sql_value(f"SELECT COUNT(*) FROM wp_cloudchat_audit_log WHERE action = 'contact.restricted' AND object_id = {contact_id}"), "1")
        self.screenshot("contacts-restricted")
        # And lift it.
        self.find_row(KEPT_WA_ID).find_element(By.CSS_SELECTOR, ".cloudchat-restrict").click()
        self.driver.switch_to.alert.accept()
        self.wait(lambda d: "is-restricted" not in (self.find_row(KEPT_WA_ID).get_attribute("class") or ""), "the restriction is not lifted")
        self.assertIsNone(contact_row(KEPT_WA_ID)[3])
        self.assertEqual(e2e.sql_value(f"SELECT COUNT(*) FROM wp_cloudchat_consent_events WHERE contact_id = {contact_id} AND event = 'unrestricted'"), "1")
        # An email that is not one is refused, and nothing changes.
        self.find_row(KEPT_WA_ID).find_element(By.CSS_SELECTOR, ".cloudchat-correct").click()
        form = self.wait(lambda d: self.find_row(KEPT_WA_ID).find_element(By.CSS_SELECTOR, ".cloudchat-correct-form:not([hidden])"),
                         "the correction form does not open again")
        email = form.find_element(By.CSS_SELECTOR, "input[name=email]")
        self.driver.execute_script("arguments[0].type = 'text'", email)   # past the browser's own check
        email.clear()
        email.send_keys("not an email")
        form.find_element(By.CSS_SELECTOR, ".cloudchat-save-correction").click()
        self.wait(lambda d: "not an email address" in self.find_row(KEPT_WA_ID).text, "the refusal is not shown")
        self.assertEqual(contact_row(KEPT_WA_ID)[2], f"kept.{e2e.RUN_ID}@example.test")

    # -- WordPress's privacy tools

    def create_user_with_phone(self):
        if e2e.sql_value(f"SELECT ID FROM wp_users WHERE user_login = {e2e.quote(USER_LOGIN)}"):
            return
        self.driver.get(self.settings.site_url + "/wp-admin/user-new.php")
        self.wait_for_css("#user_login", visible=True).send_keys(USER_LOGIN)
        self.driver.find_element(By.ID, "email").send_keys(USER_EMAIL)
        notify = self.driver.find_elements(By.ID, "send_user_notification")
        if notify and notify[0].is_selected():
            notify[0].click()
        self.driver.find_element(By.ID, "createusersub").click()
        user_id = e2e.wait_until(lambda: e2e.sql_value(f"SELECT ID FROM wp_users WHERE user_login = {e2e.quote(USER_LOGIN)}"), 20,
                                 "the new WordPress user was not created")
        # The number the person gave the shop (WooCommerce keeps it as billing_phone).
        e2e.sql(f"INSERT INTO wp_usermeta (user_id, meta_key, meta_value) VALUES ({int(user_id)}, 'billing_phone', {e2e.quote(ERASED_BILLING_PHONE)})")

    def add_request(self, screen):
        """Adds a confirmed request for the user on export-personal-data.php or erase-personal-data.php; answers its row."""
        self.driver.get(f"{self.settings.site_url}/wp-admin/{screen}")
        self.wait_for_css("#username_or_email_for_privacy_request", visible=True).send_keys(USER_EMAIL)
        confirmation = self.driver.find_element(By.ID, "send_confirmation_email")
        if confirmation.is_selected():
            confirmation.click()
        self.driver.find_element(By.CSS_SELECTOR, "form.wp-privacy-request-form #submit").click()
        return self.wait(lambda d: self.request_row(), f"no request row for {USER_EMAIL} on {screen}")

    def request_row(self):
        for row in self.driver.find_elements(By.CSS_SELECTOR, "table.wp-list-table tbody tr"):
            if USER_EMAIL in row.text and "status-request-confirmed" in (row.get_attribute("class") or ""):
                return row
        return None

    def test_2_export_personal_data_includes_cloudchat(self):
        contact_id = wait_for_contact(ERASED_WA_ID, ERASED_NAME, ERASED_TEXT)
        self.create_user_with_phone()
        row = self.add_request("export-personal-data.php")
        request_id = row.find_element(By.CSS_SELECTOR, ".export-personal-data").get_attribute("data-request-id")
        # "Download personal data" sits among the row actions, shown on hover; click it as the mouse would.
        handle = row.find_element(By.CSS_SELECTOR, ".row-actions .export-personal-data .export-personal-data-handle")
        self.driver.execute_script("arguments[0].click()", handle)
        file_name = e2e.wait_until(
            lambda: e2e.sql_value(f"SELECT meta_value FROM wp_postmeta WHERE post_id = {int(request_id)} AND meta_key = '_export_file_name'"),
            60, "WordPress did not write the personal data export file")
        path = os.path.join(self.settings.site_dir, "wp-content", "uploads", "wp-personal-data-exports", file_name)
        e2e.wait_until(lambda: os.path.exists(path), 10, f"no export file at {path}")
        self.screenshot("privacy-export")
        with zipfile.ZipFile(path) as archive:
            exported = json.loads(archive.read("export.json"))
            html = archive.read("index.html").decode("utf-8")
        groups = next(iter(exported.values()))
        self.assertIn("cloudchat", groups, f"no CloudChat group in the export: {list(groups)}")
        items = groups["cloudchat"]["items"]
        # Each item is a list of {name, value}; CloudChat's value is its JSON document.
        documents = [json.loads(field["value"]) for item in items.values() for field in item]
        self.assertTrue(documents, f"the CloudChat group holds no document: {items!r}"[:2000])
        document = documents[0]
        self.assertEqual(document["contact"]["wa_id"], ERASED_WA_ID)
        self.assertEqual(int(document["contact"]["id"]), contact_id)
        self.assertTrue(any(message["body"] == ERASED_TEXT for message in document["messages"]))
        for section in ("tags", "consent", "conversation", "statuses", "outbox", "campaigns", "media"):
            self.assertIn(section, document)
        self.assertIn(ERASED_NAME, html)
        self.assertEqual(e2e.sql_value(f"SELECT COUNT(*) FROM wp_cloudchat_audit_log WHERE action = 'contact.exported' AND object_id = {contact_id}"), "1")

    def erase_and_read_results(self):
        row = self.add_request("erase-personal-data.php")
        handle = row.find_element(By.CSS_SELECTOR, ".remove-personal-data .remove-personal-data-handle")
        self.driver.execute_script("arguments[0].click()", handle)

        def results(driver):
            for result in driver.find_elements(By.CSS_SELECTOR, "tr.request-results .notice"):
                if result.text.strip():
                    return result.text
            return None
        return self.wait(results, "the erasure shows no result", timeout=90)

    def test_3_erase_personal_data_while_the_daemon_is_down_keeps_everything(self):
        contact_id = wait_for_contact(ERASED_WA_ID, ERASED_NAME, ERASED_TEXT)
        self.create_user_with_phone()
        e2e.stop_daemon()
        try:
            text = self.erase_and_read_results()
        finally:
            e2e.start_daemon()
        self.screenshot("privacy-erase-daemon-down")
        self.assertIn("CloudChat kept 1 WhatsApp contact", text)
        self.assertIn("run this erasure again once the service is running", text)
        self.assertEqual(contact_row(ERASED_WA_ID)[0], str(contact_id))
        self.assertEqual(e2e.sql_value(f"SELECT COUNT(*) FROM wp_cloudchat_messages WHERE contact_id = {contact_id}"), "1")

    def test_4_erase_personal_data_erases_the_contact_through_the_daemon(self):
        contact_id = wait_for_contact(ERASED_WA_ID, ERASED_NAME, ERASED_TEXT)
        self.create_user_with_phone()
        text = self.erase_and_read_results()
        self.screenshot("privacy-erase")
        self.assertNotIn("CloudChat kept", text)
        self.assertIsNone(contact_row(ERASED_WA_ID))
        for table in ("messages", "conversations", "consent_events", "contact_tags", "status_events", "outbox", "media"):
            self.assertEqual(e2e.sql_value(f"SELECT COUNT(*) FROM wp_cloudchat_{table} WHERE contact_id = {contact_id}"), "0", table)
        self.assertEqual(e2e.sql_value(
            f"SELECT COUNT(*) FROM wp_cloudchat_webhook_events WHERE body LIKE {e2e.quote('%' + ERASED_WA_ID + '%')}"), "0",
            "a raw webhook still names the person")
        audit = e2e.sql(f"SELECT actor_type, details_json FROM wp_cloudchat_audit_log WHERE action = 'contact.erased' AND object_id = {contact_id}")
        self.assertEqual(len(audit), 1)
        self.assertEqual(audit[0][0], "wp_user")
        self.assertNotIn(ERASED_WA_ID, audit[0][1])
        self.assertNotIn("Priya", audit[0][1])
        # The other person is untouched.
        self.assertIsNotNone(contact_row(KEPT_WA_ID))


if __name__ == "__main__":
    unittest.main()
