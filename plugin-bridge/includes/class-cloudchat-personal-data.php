<?php
/**
 * A contact's personal data, as one document.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Reads everything CloudChat keeps about a contact (docs/schema.md §7), for the
 * per-contact export in wp-admin and for Tools → Export Personal Data.
 */
final class CloudChat_Personal_Data {

	/** Rows per table in one export document. */
	const ROW_LIMIT = 10000;

	/**
	 * Every table's rows about one contact, or null when there is no such contact.
	 *
	 * @param int $contact_id The contact.
	 * @return array|null
	 */
	public static function export_contact( $contact_id ) {
		global $wpdb;
		$contact = self::rows( 'contacts', 'id', $contact_id );
		if ( empty( $contact ) ) {
			return null;
		}
		$messages = self::rows( 'messages', 'contact_id', $contact_id, 'id, wamid, direction, type, source, body, payload_json, context_wamid, status, message_at, sent_at, delivered_at, read_at, failed_at, error_code' );
		foreach ( $messages as &$message ) {
			$message['payload'] = null === $message['payload_json'] ? null : json_decode( $message['payload_json'], true );
			unset( $message['payload_json'] );
		}
		unset( $message );
		$recipients = CloudChat_Tables::name( 'campaign_recipients' );
		$campaigns  = CloudChat_Tables::name( 'campaigns' );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table names from $wpdb->prefix.
		$participation = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT r.campaign_id, c.name AS campaign_name, c.template_name, r.state, r.state_reason, r.variables_json, r.sent_at, r.delivered_at, r.read_at, r.replied_at
				 FROM {$recipients} r LEFT JOIN {$campaigns} c ON c.id = r.campaign_id WHERE r.contact_id = %d LIMIT %d",
				$contact_id,
				self::ROW_LIMIT
			),
			ARRAY_A
		);
		return array(
			'exported_at'    => gmdate( 'Y-m-d\TH:i:s\Z' ),
			'contact'        => $contact[0],
			'tags'           => wp_list_pluck( self::rows( 'contact_tags', 'contact_id', $contact_id, 'tag, created_at' ), 'tag' ),
			'consent'        => self::rows( 'consent_events', 'contact_id', $contact_id, 'event, source, detail, occurred_at' ),
			'conversation'   => self::rows( 'conversations', 'contact_id', $contact_id, 'state, unread_count, last_message_at, last_inbound_at, last_outbound_at, created_at' ),
			'messages'       => $messages,
			'statuses'       => self::rows( 'status_events', 'contact_id', $contact_id, 'wamid, status, status_at, error_code' ),
			'outbox'         => self::rows( 'outbox', 'contact_id', $contact_id, 'id, type, payload_json, state, state_reason, created_at, sent_at' ),
			'campaigns'      => $participation,
			'media'          => self::rows( 'media', 'contact_id', $contact_id, 'id, direction, mime_type, file_name, size_bytes, state, created_at' ),
		);
	}

	/**
	 * Rows of one CloudChat table with a column equal to an id.
	 *
	 * @param string $table   Table after `cloudchat_`.
	 * @param string $column  id or contact_id (fixed by the callers).
	 * @param int    $id      The value.
	 * @param string $columns Column list (fixed by the callers).
	 * @return array[]
	 */
	private static function rows( $table, $column, $id, $columns = '*' ) {
		global $wpdb;
		$name = CloudChat_Tables::name( $table );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table and column names are fixed strings.
		return $wpdb->get_results( $wpdb->prepare( "SELECT {$columns} FROM {$name} WHERE {$column} = %d LIMIT %d", $id, self::ROW_LIMIT ), ARRAY_A );
	}

	/**
	 * Registers the exporter with Tools → Export Personal Data.
	 *
	 * @param array $exporters Registered exporters.
	 * @return array
	 */
	public static function register_exporter( $exporters ) {
		$exporters['cloudchat'] = array(
			'exporter_friendly_name' => __( 'CloudChat (WhatsApp)', 'cloudchat' ),
			'callback'               => array( __CLASS__, 'export_by_email' ),
		);
		return $exporters;
	}

	/**
	 * The WordPress exporter: contacts with that email, or linked to the WordPress user with it.
	 *
	 * @param string $email The person's email.
	 * @param int    $page  1-based page (one contact per page).
	 * @return array
	 */
	public static function export_by_email( $email, $page = 1 ) {
		global $wpdb;
		$contacts = CloudChat_Tables::name( 'contacts' );
		$user     = get_user_by( 'email', $email );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
		$ids  = $wpdb->get_col( $wpdb->prepare( "SELECT id FROM {$contacts} WHERE email = %s OR wp_user_id = %d ORDER BY id", $email, $user ? $user->ID : 0 ) );
		$page = max( 1, (int) $page );
		if ( ! isset( $ids[ $page - 1 ] ) ) {
			return array(
				'data' => array(),
				'done' => true,
			);
		}
		$document = self::export_contact( (int) $ids[ $page - 1 ] );
		$data     = array();
		if ( null !== $document ) {
			$data[] = array(
				'group_id'    => 'cloudchat',
				'group_label' => __( 'WhatsApp conversations (CloudChat)', 'cloudchat' ),
				'item_id'     => 'cloudchat-contact-' . (int) $ids[ $page - 1 ],
				'data'        => array(
					array(
						'name'  => __( 'Everything CloudChat keeps about this contact (JSON)', 'cloudchat' ),
						'value' => wp_json_encode( $document, JSON_PRETTY_PRINT | JSON_UNESCAPED_UNICODE ),
					),
				),
			);
		}
		return array(
			'data' => $data,
			'done' => $page >= count( $ids ),
		);
	}
}
