"""cloudchatd stops (as during an upgrade or a crash): the inbox still loads and
says the service cannot be reached, an agent's reply waits in the queue, and
once the daemon is back the reply is sent and read without a page reload."""

import unittest

from selenium.webdriver.common.by import By

import cloudchat_e2e as e2e


class DaemonOutageTest(e2e.BrowserTestCase):

    def test_a_reply_written_while_the_daemon_is_down_is_sent_when_it_returns(self):
        e2e.ensure_customer_wrote()
        sent_before = e2e.simulator_received(e2e.CUSTOMER_WA_ID)["count"]
        reply = f"Sorry for the wait, checking now. (outage {e2e.RUN_ID})"

        e2e.stop_daemon()
        # Forget what the site last knew of the daemon, so the page loads knowing it is down and shows the
        # banner from the start (wp-admin moves notices present at load unless they are inline).
        e2e.sql("DELETE FROM wp_options WHERE option_name LIKE '\\_transient%cloudchat\\_daemon\\_reachable'")
        try:
            self.log_in("agent")
            self.open_admin_page("cloudchat")
            self.open_conversation(e2e.CUSTOMER_NAME)
            self.driver.execute_script("window.cloudchatE2EMarker = 'same page';")
            self.send_reply(reply)

            self.wait(lambda d: any(b.is_displayed() for b in d.find_elements(By.CSS_SELECTOR, ".cloudchat-daemon-banner")),
                      "no daemon banner after a reply the daemon could not be told of", timeout=10)
            self.assertEqual(self.outbound_status(reply), "queued", "the reply is not shown as queued while the daemon is down")
            state = e2e.sql_value(f"SELECT state FROM wp_cloudchat_outbox WHERE payload_json LIKE {e2e.quote('%outage ' + e2e.RUN_ID + '%')}")
            self.assertEqual(state, "queued", "the reply is not a queued row in wp_cloudchat_outbox")
            self.screenshot("inbox-daemon-down")
        finally:
            e2e.start_daemon()

        self.wait(lambda d: self.outbound_status(reply) == "read",
                  lambda: f"after the daemon came back the reply's data-status is {self.outbound_status(reply)!r}, not read",
                  timeout=45)
        # The screen asks every 5 s whether the service is back.
        self.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, ".cloudchat-daemon-banner"),
                  lambda: "the daemon banner stays after the queued reply was sent; GET cloudchat/v1/daemon answers "
                          + repr(e2e.session("agent").rest("GET", "/cloudchat/v1/daemon")), timeout=20)
        self.assertEqual(self.driver.execute_script("return window.cloudchatE2EMarker;"), "same page",
                         "the page was reloaded to show the reply's status")

        received = e2e.simulator_received(e2e.CUSTOMER_WA_ID)
        self.assertEqual(received["count"], sent_before + 1,
                         f"the simulator got {received['count'] - sent_before} messages for the customer after the outage, not one")
        wamid = e2e.sql_value(f"SELECT wamid FROM wp_cloudchat_messages WHERE direction = 'outbound' AND body = {e2e.quote(reply)}")
        self.assertEqual(received["messages"][-1].get("id"), wamid, "the simulator's last message for the customer is not the queued reply")


if __name__ == "__main__":
    unittest.main()
