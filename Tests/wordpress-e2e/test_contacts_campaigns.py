"""An administrator finds the customer in Contacts, then sends a small campaign
to a CSV file of five numbers and follows it to the end on the Campaigns
screen; the simulator confirms each number got the message exactly once."""

import os
import tempfile
import unittest

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import cloudchat_e2e as e2e

# +1 555 0100 100 … 104, written as people write them.
RECIPIENTS = [(f"+1 555 0100 {100 + n}", f"15550100{100 + n}", f"Recipient {n + 1}") for n in range(5)]


class ContactsAndCampaignsTest(e2e.BrowserTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.logged_in = False

    def setUp(self):
        if not type(self).logged_in:
            self.log_in("admin")
            type(self).logged_in = True

    def test_1_contacts_list_the_customer(self):
        e2e.ensure_customer_wrote()
        self.open_admin_page("cloudchat-contacts")

        def customer(driver):
            for row in driver.find_elements(By.CSS_SELECTOR, "tr.cloudchat-contact"):
                digits = "".join(ch for ch in row.text if ch.isdigit())
                if e2e.CUSTOMER_NAME in row.text or e2e.CUSTOMER_WA_ID in digits:
                    return row
            return None
        self.wait(customer, f"no tr.cloudchat-contact for {e2e.CUSTOMER_NAME} ({e2e.CUSTOMER_WA_ID})", timeout=20)
        self.screenshot("contacts")

    def test_2_campaign_to_a_csv_file(self):
        e2e.ensure_site_configured()
        name = f"E2E hello {e2e.RUN_ID}"
        self.open_admin_page("cloudchat-campaigns")
        self.wait_for_css("#cloudchat-campaign-name", visible=True).send_keys(name)

        def hello_world_option(driver):
            select = driver.find_element(By.ID, "cloudchat-campaign-template")
            for option in select.find_elements(By.TAG_NAME, "option"):
                if "hello_world" in option.text and option.get_attribute("value"):
                    return option
            return None
        option = self.wait(hello_world_option, "the template list offers no hello_world", timeout=20)
        Select(self.driver.find_element(By.ID, "cloudchat-campaign-template")).select_by_value(option.get_attribute("value"))
        Select(self.driver.find_element(By.ID, "cloudchat-campaign-audience")).select_by_value("csv")

        handle, path = tempfile.mkstemp(prefix="cloudchat-e2e-", suffix=".csv")
        with os.fdopen(handle, "w") as csv:
            csv.write("phone,name\n")
            for written, _, person in RECIPIENTS:
                csv.write(f"{written},{person}\n")
        self.addCleanup(os.unlink, path)
        self.wait_for_css("#cloudchat-campaign-csv").send_keys(path)
        self.driver.find_element(By.ID, "cloudchat-campaign-create").click()

        def card(driver):
            for element in driver.find_elements(By.CSS_SELECTOR, ".cloudchat-campaign[data-campaign-id]"):
                if name in element.text:
                    return element
            return None
        self.wait(lambda d: card(d) is not None and card(d).get_attribute("data-state") == "draft",
                  f"the new campaign {name!r} is not shown as a draft (.cloudchat-campaign[data-state=draft])", timeout=20)
        campaign_id = self.wait(lambda d: card(d).get_attribute("data-campaign-id"), "the campaign has no id", timeout=5)
        recipients = e2e.sql_value(f"SELECT COUNT(*) FROM wp_cloudchat_campaign_recipients WHERE campaign_id = {int(campaign_id)}")
        self.assertEqual(recipients, "5", "the CSV file's five numbers are not the campaign's recipients")

        self.wait(lambda d: card(d).find_element(By.CSS_SELECTOR, 'button[data-action="start"]').click() or True,
                  "the draft campaign has no start button (button[data-action=start])", timeout=10)

        def state():
            element = card(self.driver)
            if element is None:
                return "(not shown)"
            progress = element.find_elements(By.CSS_SELECTOR, ".cloudchat-campaign-progress")
            sent = progress[0].get_attribute("data-sent") if progress else None
            return f"state {element.get_attribute('data-state')!r}, data-sent {sent!r}"
        self.wait(lambda d: state() == "state 'completed', data-sent '5'",
                  lambda: f"the campaign did not complete with 5 sent ({state()})", timeout=60)

        def funnel_shown(driver):
            return any(f.is_displayed() for f in card(driver).find_elements(By.CSS_SELECTOR, ".cloudchat-funnel"))
        if not self.wait(lambda d: funnel_shown(d) or "hidden", "the campaign is not shown", timeout=5) is True:
            # The funnel may sit behind the campaign's summary; open it.
            self.wait(lambda d: card(d).find_element(By.CSS_SELECTOR, ".cloudchat-campaign-summary").click() or True,
                      "could not open the campaign's summary", timeout=5)
        self.wait(funnel_shown, "the campaign's funnel (.cloudchat-funnel) is not visible", timeout=10)
        self.screenshot("campaigns")

        for written, digits, _ in RECIPIENTS:
            with self.subTest(recipient=written):
                received = e2e.simulator_received(digits)
                self.assertEqual(received["count"], 1, f"{written} got {received['count']} messages from the simulator's view, not one")
                self.assertEqual(received["messages"][0].get("type"), "template")
                self.assertEqual(received["messages"][0].get("template"), "hello_world", received)
        stats = e2e.simulator_stats()
        self.assertEqual(stats["sends"]["recipients_messaged_more_than_once"], 0, f"someone got a message twice: {stats}")


if __name__ == "__main__":
    unittest.main()
