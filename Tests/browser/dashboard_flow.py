"""The dashboard in a real browser (Debian's chromium + chromedriver, Selenium), driven by
DashboardEndToEndTests with a running coordinator. Prints one JSON line of what it saw; the
Swift test asserts on it. Arguments come as JSON in FIELDMEDIC_BROWSER_ARGS."""
import json
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

args = json.loads(os.environ["FIELDMEDIC_BROWSER_ARGS"])
base, ticket, out = args["base"], args["ticket"], args["out"]
seen = {}


def wait_until(what, condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception:  # the page may be mid-navigation
            pass
        time.sleep(0.2)
    raise TimeoutError("timed out after %ss waiting until %s" % (timeout, what))


options = webdriver.ChromeOptions()
options.binary_location = args.get("chromium", "/usr/bin/chromium")
for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
             "--disable-extensions", "--no-first-run"):
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service(args.get("chromedriver", "/usr/bin/chromedriver")), options=options)
try:
    def sign_in(name, password):
        driver.get(base + "/")
        wait_until("the login page shows", lambda: "/login" in driver.current_url, 10)
        driver.find_element(By.NAME, "name").send_keys(name)
        driver.find_element(By.NAME, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
        wait_until(name + " is signed in", lambda: driver.find_element(By.CSS_SELECTOR, "form.who span").text.startswith(name), 10)

    def sign_out():
        driver.find_element(By.CSS_SELECTOR, "form.who button").click()
        wait_until("signed out", lambda: "/login" in driver.current_url, 10)

    def post_status(path, fields):
        """A POST from the page itself (same origin, the session cookie), returning the status."""
        return driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {method: 'POST', credentials: 'same-origin', redirect: 'manual',"
            " headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: new URLSearchParams(arguments[1]).toString()})"
            ".then(function (r) { done(r.status); }).catch(function (e) { done(String(e)); });",
            path, fields)

    # A viewer sees the plan but no Approve button, and a hand-made approval is refused.
    sign_in(args["viewer"], args["password"])
    driver.get(base + "/approvals")
    plan = driver.find_element(By.CSS_SELECTOR, "#approval-%s code" % ticket).text
    seen["viewer_sees_approve_button"] = len(driver.find_elements(By.CSS_SELECTOR, "#approval-%s button.approve" % ticket)) > 0
    viewer_csrf = driver.find_element(By.CSS_SELECTOR, "form.who input[name=csrf]").get_attribute("value")
    seen["viewer_post_status"] = post_status("/tickets/%s/approve" % ticket, {"csrf": viewer_csrf, "plan": plan})
    sign_out()

    # The approver: the ticket is on the fleet page; screenshots at desktop and phone widths.
    sign_in(args["approver"], args["password"])
    driver.get(base + "/")
    wait_until("the ticket shows on the fleet page",
               lambda: any(a.text.startswith("#%s " % ticket) for a in driver.find_elements(By.CSS_SELECTOR, "a.ticket-link")), 30)
    seen["fleet_ticket_link"] = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "a.ticket-link")]
    driver.save_screenshot(os.path.join(out, "fleet-desktop.png"))
    driver.set_window_size(390, 844)
    driver.get(base + "/")
    driver.save_screenshot(os.path.join(out, "fleet-phone.png"))
    seen["phone_scroll_width"] = driver.execute_script("return document.documentElement.scrollWidth")
    driver.set_window_size(1280, 900)

    # A form posted without its CSRF token is refused.
    driver.find_element(By.LINK_TEXT, "Approvals").click()
    wait_until("the approvals page shows", lambda: driver.find_element(By.TAG_NAME, "h1").text == "Approvals", 10)
    driver.save_screenshot(os.path.join(out, "approvals-desktop.png"))
    driver.execute_script("document.querySelector('#approval-%s form[action$=\"/approve\"] input[name=csrf]').remove()" % ticket)
    driver.find_element(By.CSS_SELECTOR, "#approval-%s button.approve" % ticket).click()
    wait_until("the refusal page shows", lambda: driver.find_element(By.TAG_NAME, "h1").text.startswith("403"), 10)
    seen["no_csrf_page"] = driver.find_element(By.TAG_NAME, "h1").text

    # Approve for real and watch the ticket page (it refreshes itself) until it resolves.
    driver.get(base + "/approvals")
    driver.find_element(By.CSS_SELECTOR, "#approval-%s button.approve" % ticket).click()
    wait_until("the ticket page shows", lambda: driver.current_url.startswith(base + "/tickets/%s" % ticket), 10)
    seen["notice"] = driver.find_element(By.CSS_SELECTOR, ".banner.ok").text
    approved_at = time.monotonic()
    driver.execute_script("window.fieldmedicMarker = 'same page';")  # lost if the page were reloaded
    wait_until("the ticket resolves on its page", lambda: driver.find_element(By.ID, "ticket-state").text == "resolved", args.get("timeout", 150))
    seen["resolved_after_seconds"] = round(time.monotonic() - approved_at, 1)
    seen["same_page"] = driver.execute_script("return window.fieldmedicMarker === 'same page'")
    seen["timeline"] = driver.find_element(By.CSS_SELECTOR, "ol.timeline").text
    driver.save_screenshot(os.path.join(out, "ticket-resolved-desktop.png"))
    driver.set_window_size(390, 844)
    driver.save_screenshot(os.path.join(out, "ticket-resolved-phone.png"))
    driver.set_window_size(1280, 900)

    # The fleet page refreshes itself ([web] live_refresh = "1s" here); cut off from the
    # coordinator (the browser's network taken offline), it says after three failed asks that
    # its data is stale, and stops saying so once an ask succeeds again.
    driver.get(base + "/")
    first = driver.find_element(By.CSS_SELECTOR, ".stamp time").text
    driver.execute_script("window.fieldmedicMarker = 'fleet page';")
    wait_until("the fleet data refreshes in place", lambda: driver.find_element(By.CSS_SELECTOR, ".stamp time").text != first, 15)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    offline_at = time.monotonic()
    seen["stale_at_once"] = driver.find_element(By.CSS_SELECTOR, ".stamp .stale").is_displayed()
    wait_until("the fleet page says its data is stale", lambda: driver.find_element(By.CSS_SELECTOR, ".stamp .stale").is_displayed(), 20)
    seen["stale_after_seconds"] = round(time.monotonic() - offline_at, 1)
    seen["stale_text"] = driver.find_element(By.CSS_SELECTOR, ".stamp").text
    driver.save_screenshot(os.path.join(out, "fleet-stale-desktop.png"))
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    wait_until("the fleet page is fresh again", lambda: not driver.find_element(By.CSS_SELECTOR, ".stamp .stale").is_displayed(), 20)
    seen["fresh_again"] = True
    seen["same_fleet_page"] = driver.execute_script("return window.fieldmedicMarker === 'fleet page'")
    seen["ok"] = True
except Exception as error:  # report what happened, with the page, to the Swift test
    seen["ok"] = False
    seen["error"] = "%s: %s" % (type(error).__name__, error)
    seen["url"] = driver.current_url
    seen["page"] = driver.page_source[:3000]
    driver.save_screenshot(os.path.join(out, "failure.png"))
finally:
    driver.quit()
print(json.dumps(seen))
sys.exit(0 if seen.get("ok") else 1)
