"""A customer whose name and message carry SQL, HTML and script payloads, RTL
text, emoji and a NUL: cloudchatd stores them byte for byte, and the Inbox
shows them as literal text, with no markup made and no script run."""

import unittest

from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By

import cloudchat_e2e as e2e

WA_ID = "16505557777"
NAME = "Eve <img src=x onerror=\"window.__cloudchatXSS='name';alert('name')\"> '); DROP TABLE x;--"
TEXT = ("<script>window.__cloudchatXSS='script';alert(1)</script> "
        "<img src=x onerror=window.__cloudchatXSS='img';alert(2)> "
        "'); DROP TABLE wp_cloudchat_messages;-- "
        "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd \u202eevil\u202c \U0001F44D\U0001F3FD a\u0000b "
        f"(hostile {e2e.RUN_ID})")


def hex_of(text):
    return text.encode("utf-8").hex().upper()


class HostileTextTest(e2e.BrowserTestCase):

    def test_payloads_round_trip_and_show_as_text(self):
        e2e.ensure_site_configured()
        e2e.simulator_inbound(WA_ID, NAME, TEXT)
        e2e.wait_until(
            lambda: e2e.sql_value(
                "SELECT COUNT(*) FROM wp_cloudchat_messages m JOIN wp_cloudchat_contacts c ON c.id = m.contact_id "
                f"WHERE c.wa_id = {e2e.quote(WA_ID)} AND m.direction = 'inbound' AND HEX(m.body) = {e2e.quote(hex_of(TEXT))}") not in (None, "0"),
            20, "cloudchatd did not store the message byte for byte (wp_cloudchat_messages.body)")
        self.assertEqual(
            e2e.sql_value(f"SELECT HEX(profile_name) FROM wp_cloudchat_contacts WHERE wa_id = {e2e.quote(WA_ID)}"), hex_of(NAME),
            "the profile name was not stored byte for byte")
        self.assertEqual(e2e.sql_value("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                                       "AND TABLE_NAME = 'wp_cloudchat_messages'"), "1", "the messages table is gone")

        self.log_in("agent")
        self.open_admin_page("cloudchat")
        visible_name = "Eve <img src=x onerror="
        self.wait(lambda d: self.conversation_item(visible_name), "the inbox does not list the contact's name as literal text", timeout=20)
        self.open_conversation(visible_name)

        def inbound(driver):
            for body in driver.find_elements(By.CSS_SELECTOR, '.cloudchat-message[data-direction="inbound"] .cloudchat-message-body'):
                if f"hostile {e2e.RUN_ID}" in body.text:
                    return body
            return None
        body = self.wait(inbound, "the opened conversation does not show the message", timeout=20)
        shown = body.text
        for literal in ["<script>window.__cloudchatXSS='script';alert(1)</script>", "<img src=x onerror=window.__cloudchatXSS='img';alert(2)>",
                        "'); DROP TABLE wp_cloudchat_messages;--", "\u0645\u0631\u062d\u0628\u0627", "\u05e9\u05dc\u05d5\u05dd"]:
            self.assertIn(literal, shown, "the message is not shown as literal text")
        # WordPress's own emoji script turns the emoji into <img class="emoji">; nothing else may become markup.
        self.assertEqual(body.find_elements(By.CSS_SELECTOR, "script, iframe, [onerror], img:not(.emoji)"), [], "the message made markup")
        page = self.driver.find_element(By.CSS_SELECTOR, "body")
        self.assertEqual(page.find_elements(By.CSS_SELECTOR, "img[src='x']"), [], "a payload's image is in the page")
        self.screenshot("inbox-hostile-text")

        self.assertEqual(self.driver.execute_script("return typeof window.__cloudchatXSS;"), "undefined", "a payload's script ran")
        with self.assertRaises(NoAlertPresentException, msg="an alert is open"):
            self.driver.switch_to.alert.text


if __name__ == "__main__":
    unittest.main()
