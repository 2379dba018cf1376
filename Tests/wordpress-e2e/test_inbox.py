"""A customer writes through Meta's webhook (the simulator); an agent sees the
conversation in the Inbox, replies, and watches the reply go sent, delivered
and read without reloading the page."""

import unittest

from selenium.webdriver.common.by import By

import cloudchat_e2e as e2e


class InboxTest(e2e.BrowserTestCase):

    def test_agent_replies_to_a_customer(self):
        e2e.ensure_site_configured()
        customer_text = f"{e2e.CUSTOMER_TEXT} (order {e2e.RUN_ID})"
        e2e.simulator_inbound(e2e.CUSTOMER_WA_ID, e2e.CUSTOMER_NAME, customer_text)
        e2e.wait_until(
            lambda: e2e.sql_value(
                "SELECT COUNT(*) FROM wp_cloudchat_messages m JOIN wp_cloudchat_contacts c ON c.id = m.contact_id "
                f"WHERE c.wa_id = {e2e.quote(e2e.CUSTOMER_WA_ID)} AND m.direction = 'inbound' "
                f"AND m.body = {e2e.quote(customer_text)}") not in (None, "0"),
            20, "cloudchatd did not store the customer's message (wp_cloudchat_messages)")

        self.log_in("agent")
        self.open_admin_page("cloudchat")

        self.wait(lambda d: self.conversation_item(e2e.CUSTOMER_NAME), f"no .cloudchat-conversation for {e2e.CUSTOMER_NAME} in the inbox", timeout=20)
        self.wait(lambda d: customer_text[:30] in self.conversation_item(e2e.CUSTOMER_NAME).text,
                  "the conversation in the list does not show the customer's text", timeout=10)
        self.screenshot("inbox")
        self.open_conversation(e2e.CUSTOMER_NAME)

        def inbound(driver):
            for body in driver.find_elements(By.CSS_SELECTOR, '.cloudchat-message[data-direction="inbound"] .cloudchat-message-body'):
                if customer_text in body.text:
                    return body
            return None
        self.wait(inbound, "the opened conversation does not show the customer's message", timeout=20)

        # A page reload would drop this marker.
        self.driver.execute_script("window.cloudchatE2EMarker = 'same page';")
        reply = f"Yes, it left the warehouse today. (reply {e2e.RUN_ID})"
        self.send_reply(reply)
        self.wait(lambda d: self.outbound_status(reply) == "read",
                  lambda: f"the reply's data-status did not become read (it is {self.outbound_status(reply)!r})", timeout=30)
        self.assertEqual(self.driver.execute_script("return window.cloudchatE2EMarker;"), "same page",
                         "the page was reloaded to show the reply's status")
        self.screenshot("inbox-replied")

        received = e2e.simulator_received(e2e.CUSTOMER_WA_ID)
        self.assertEqual(received["count"], 1, f"the simulator got {received['count']} messages for the customer, not one")
        self.assertEqual(received["messages"][0].get("type"), "text", received)


if __name__ == "__main__":
    unittest.main()
