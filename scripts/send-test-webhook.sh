#!/bin/sh
# Posts a signed sample WhatsApp webhook to the demo cloudchatd started by
# scripts/dev.sh and shows the stored event and the message it became.
#
#   scripts/send-test-webhook.sh [url]      (default http://127.0.0.1:8787/webhook)
set -eu

say() { printf '%s\n' "$*"; }
err() { printf 'send-test-webhook: error: %s\n' "$*" >&2; exit 1; }

repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
url=${1:-http://127.0.0.1:8787/webhook}
secret=demo-app-secret

main() {
    command -v curl >/dev/null 2>&1 || err "curl is not installed; run: apt-get install -y curl"
    command -v openssl >/dev/null 2>&1 || err "openssl is not installed; run: apt-get install -y openssl"
    now=$(date +%s)
    body=$(printf '{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Demo Customer"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.demo%s","timestamp":"%s","type":"text","text":{"body":"Hello from the demo"}}]}}]}]}' "$now" "$now")
    signature=$(printf '%s' "$body" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.* //')
    say "POST $url (signed with the demo app secret)"
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$url" \
        -H 'Content-Type: application/json' -H "X-Hub-Signature-256: sha256=$signature" --data-binary "$body") \
        || err "cloudchatd is not answering at $url; start it with scripts/dev.sh"
    say "answer: HTTP $status"
    [ "$status" = 200 ] || err "expected 200; see cloudchatd's log"
    eval "$("$repo_root/scripts/mariadb-dev.sh" env)"
    sql() { mariadb --no-defaults --socket="$CLOUDCHAT_TEST_DB_SOCKET" -u"$CLOUDCHAT_TEST_DB_USER" -p"$CLOUDCHAT_TEST_DB_PASSWORD" cloudchat_demo -e "$1"; }
    # Processing follows the acknowledgement within a moment.
    i=0
    while [ "$(sql "SELECT COUNT(*) FROM wp_cloudchat_messages WHERE wamid = 'wamid.demo$now'" | tail -1)" = 0 ] && [ "$i" -lt 20 ]; do
        i=$((i + 1))
        sleep 0.25
    done
    say "stored events (newest first):"
    sql "SELECT id, received_at, phone_number_id, processing_state, LENGTH(body) AS bytes FROM wp_cloudchat_webhook_events ORDER BY id DESC LIMIT 3"
    say "the message, its contact and conversation:"
    sql "SELECT m.id, m.direction, m.type, m.body, m.status, c.wa_id, c.profile_name, v.unread_count
           FROM wp_cloudchat_messages m JOIN wp_cloudchat_contacts c ON c.id = m.contact_id
           JOIN wp_cloudchat_conversations v ON v.contact_id = m.contact_id
          WHERE m.wamid = 'wamid.demo$now'"
}

main "$@"
