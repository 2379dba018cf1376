#!/bin/sh
# Queues a reply to the customer who wrote last to the demo started by
# scripts/dev.sh, as the WordPress plugin does (an outbox row, then a signed
# notify to cloudchatd's control API), and follows it: the send to the Graph API
# simulator, then Meta's status webhooks moving it to sent, delivered and read.
#
#   scripts/send-test-message.sh ["text of the reply"]
set -eu

say() { printf '%s\n' "$*"; }
err() { printf 'send-test-message: error: %s\n' "$*" >&2; exit 1; }

repo_root=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
text=${1:-Thanks for writing! Your order ships today.}
control=http://127.0.0.1:8789

main() {
    command -v curl >/dev/null 2>&1 || err "curl is not installed; run: apt-get install -y curl"
    command -v openssl >/dev/null 2>&1 || err "openssl is not installed; run: apt-get install -y openssl"
    [ -s "$repo_root/.dev/control-secret" ] || err "no demo control secret; start the demo with scripts/dev.sh first"
    eval "$("$repo_root/scripts/mariadb-dev.sh" env)"
    sql() { mariadb --no-defaults --socket="$CLOUDCHAT_TEST_DB_SOCKET" -u"$CLOUDCHAT_TEST_DB_USER" -p"$CLOUDCHAT_TEST_DB_PASSWORD" -N cloudchat_demo -e "$1"; }

    contact=$(sql "SELECT contact_id FROM wp_cloudchat_conversations WHERE last_inbound_at IS NOT NULL ORDER BY last_inbound_at DESC LIMIT 1")
    [ -n "$contact" ] || err "no customer has written yet; wait for the simulator's first message, or run scripts/send-test-webhook.sh"
    account=$(sql "SELECT account_id FROM wp_cloudchat_contacts WHERE id = $contact")
    payload=$(printf '{"type":"text","text":{"body":"%s"}}' "$(printf '%s' "$text" | sed 's/["\\]/\\&/g')")
    outbox=$(sql "INSERT INTO wp_cloudchat_outbox (account_id, contact_id, priority, type, payload_json, source, next_attempt_at, created_at, updated_at)
                  VALUES ($account, $contact, 0, 'text', '$(printf '%s' "$payload" | sed "s/'/''/g")', 'agent', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6));
                  SELECT LAST_INSERT_ID();")
    say "queued outbox row $outbox (an agent's reply to contact $contact)"

    body='{"blog_id":1,"topic":"outbox"}'
    stamp=$(date +%s)
    signature=$(printf '%s\nPOST\n/v1/notify\n%s' "$stamp" "$body" | openssl dgst -sha256 -hmac "$(cat "$repo_root/.dev/control-secret")" | sed 's/^.* //')
    status=$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$control/v1/notify" -H 'Content-Type: application/json' \
        -H "X-CloudChat-Timestamp: $stamp" -H "X-CloudChat-Signature: sha256=$signature" --data-binary "$body") \
        || err "cloudchatd's control API is not answering at $control; start the demo with scripts/dev.sh"
    say "notified cloudchatd: HTTP $status"

    # Follow the message until Meta (the simulator) reports it read, for at most 10 seconds.
    last=""
    i=0
    while [ "$i" -lt 40 ]; do
        now=$(sql "SELECT CONCAT(o.state, ' / ', COALESCE(m.status, '-')) FROM wp_cloudchat_outbox o
                     LEFT JOIN wp_cloudchat_messages m ON m.id = o.message_id WHERE o.id = $outbox")
        [ "$now" = "$last" ] || say "outbox / message status: $now"
        last=$now
        case "$now" in *read|*failed) break ;; esac
        i=$((i + 1))
        sleep 0.25
    done
    mariadb --no-defaults --socket="$CLOUDCHAT_TEST_DB_SOCKET" -u"$CLOUDCHAT_TEST_DB_USER" -p"$CLOUDCHAT_TEST_DB_PASSWORD" cloudchat_demo -e "SELECT o.id AS outbox, o.state, o.attempt_count AS attempts, o.wamid, m.status, m.sent_at, m.delivered_at, m.read_at
           FROM wp_cloudchat_outbox o LEFT JOIN wp_cloudchat_messages m ON m.id = o.message_id WHERE o.id = $outbox\\G"
}

main "$@"
