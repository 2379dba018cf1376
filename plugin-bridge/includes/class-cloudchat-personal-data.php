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
		$messages = self::rows( 'messages', 'contact_id', $contact_id, 'id, wamid, direction, type, source, body, payload_json, context_wamid, target_wamid, referral_json, media_id, status, message_at, sent_at, delivered_at, read_at, played_at, failed_at, error_code, edited_at, revoked_at' );
		foreach ( $messages as &$message ) {
			$message['payload']  = null === $message['payload_json'] ? null : json_decode( $message['payload_json'], true );
			$message['referral'] = null === $message['referral_json'] ? null : json_decode( $message['referral_json'], true );
			unset( $message['payload_json'], $message['referral_json'] );
		}
		unset( $message );
		$recipients = CloudChat_Tables::name( 'campaign_recipients' );
		$campaigns  = CloudChat_Tables::name( 'campaigns' );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table names from $wpdb->prefix.
		$participation = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT r.campaign_id, c.name AS campaign_name, c.template_name, c.template_language, r.state, r.state_reason, r.variables_json, r.sent_at, r.delivered_at, r.read_at, r.failed_at, r.replied_at
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
	 * Registers the eraser with Tools → Erase Personal Data.
	 *
	 * @param array $erasers Registered erasers.
	 * @return array
	 */
	public static function register_eraser( $erasers ) {
		$erasers['cloudchat'] = array(
			'eraser_friendly_name' => __( 'CloudChat (WhatsApp)', 'cloudchat' ),
			'callback'             => array( __CLASS__, 'erase_by_email' ),
		);
		return $erasers;
	}

	/**
	 * The contacts that are the person behind a privacy request's email address
	 * (docs/schema.md §7): contacts with that email; contacts linked to the
	 * WordPress user with that email; and contacts whose WhatsApp number or phone
	 * is that user's phone number, from the user meta keys the
	 * `cloudchat_privacy_phone_meta_keys` filter names (by default WooCommerce's
	 * `billing_phone` and the usual `phone`, `mobile`, `whatsapp` keys),
	 * normalised to WhatsApp's digits.
	 *
	 * @param string $email The request's email address.
	 * @return int[] Contact ids, oldest first.
	 */
	public static function contact_ids_for_email( $email ) {
		global $wpdb;
		if ( null !== CloudChat_Schema::problem() ) {
			return array();
		}
		$contacts = CloudChat_Tables::name( 'contacts' );
		$user     = get_user_by( 'email', $email );
		$numbers  = array();
		if ( $user ) {
			$keys = (array) apply_filters( 'cloudchat_privacy_phone_meta_keys', array( 'billing_phone', 'shipping_phone', 'phone', 'phone_number', 'mobile', 'mobile_phone', 'whatsapp' ), $user );
			foreach ( $keys as $key ) {
				$digits = CloudChat_Phone::normalize( (string) get_user_meta( $user->ID, (string) $key, true ) );
				if ( null !== $digits ) {
					$numbers[] = $digits;
				}
			}
		}
		$numbers = array_values( array_unique( $numbers ) );
		$where   = 'email = %s OR wp_user_id = %d';
		$values  = array( $email, $user ? $user->ID : 0 );
		foreach ( $numbers as $digits ) {
			$where   .= ' OR wa_id = %s OR phone = %s';
			$values[] = $digits;
			$values[] = $digits;
		}
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.PreparedSQL.NotPrepared -- table name from $wpdb->prefix; values prepared.
		$ids = $wpdb->get_col( $wpdb->prepare( "SELECT id FROM {$contacts} WHERE {$where} ORDER BY id", $values ) );
		return array_map( 'intval', (array) $ids );
	}

	/**
	 * The WordPress exporter: one contact of the person per page.
	 *
	 * @param string $email The person's email.
	 * @param int    $page  1-based page (one contact per page).
	 * @return array
	 */
	public static function export_by_email( $email, $page = 1 ) {
		$ids  = self::contact_ids_for_email( $email );
		$page = max( 1, (int) $page );
		if ( ! isset( $ids[ $page - 1 ] ) ) {
			return array(
				'data' => array(),
				'done' => true,
			);
		}
		$document = self::export_contact( $ids[ $page - 1 ] );
		$data     = array();
		if ( null !== $document ) {
			$data[] = array(
				'group_id'    => 'cloudchat',
				'group_label' => __( 'WhatsApp conversations (CloudChat)', 'cloudchat' ),
				'item_id'     => 'cloudchat-contact-' . $ids[ $page - 1 ],
				'data'        => array(
					array(
						'name'  => __( 'Everything CloudChat keeps about this contact (JSON)', 'cloudchat' ),
						'value' => wp_json_encode( $document, JSON_PRETTY_PRINT | JSON_UNESCAPED_UNICODE ),
					),
				),
			);
			self::audit( 'contact.exported', $ids[ $page - 1 ] );
		}
		return array(
			'data' => $data,
			'done' => $page >= count( $ids ),
		);
	}

	/**
	 * The WordPress eraser: the daemon erases one contact of the person per page,
	 * files and raw webhooks included, as the contacts screen's Erase does. When
	 * the daemon cannot be reached nothing is half-erased: the data is reported
	 * as retained, with what to do, and the request can be run again.
	 *
	 * @param string $email The person's email.
	 * @param int    $page  1-based page; erased contacts leave the list, so each page takes the first left.
	 * @return array
	 */
	public static function erase_by_email( $email, $page = 1 ) {
		$ids    = self::contact_ids_for_email( $email );
		$result = array(
			'items_removed'  => false,
			'items_retained' => false,
			'messages'       => array(),
			'done'           => true,
		);
		if ( empty( $ids ) || (int) $page > 100 ) {
			return $result;
		}
		$id     = $ids[0];
		$answer = ( new CloudChat_Daemon_Client() )->request( 'POST', '/v1/contacts/' . $id . '/erase', array( 'actor_user_id' => get_current_user_id() ), 120 );
		if ( is_wp_error( $answer ) ) {
			$result['items_retained'] = true;
			$result['messages'][]     = sprintf(
				/* translators: 1: number of WhatsApp contacts, 2: why the daemon could not erase them. */
				_n(
					'CloudChat kept %1$d WhatsApp contact with its messages and files: the CloudChat service could not erase it (%2$s). Nothing was half-erased; run this erasure again once the service is running.',
					'CloudChat kept %1$d WhatsApp contacts with their messages and files: the CloudChat service could not erase them (%2$s). Nothing was half-erased; run this erasure again once the service is running.',
					count( $ids ),
					'cloudchat'
				),
				count( $ids ),
				$answer->get_error_message()
			);
			return $result;
		}
		$result['items_removed'] = true;
		$result['done']          = count( $ids ) <= 1;
		return $result;
	}

	/**
	 * Writes an audit entry naming the contact by id only.
	 *
	 * @param string $action  Dotted verb.
	 * @param int    $contact The contact.
	 */
	private static function audit( $action, $contact ) {
		global $wpdb;
		$wpdb->insert(
			CloudChat_Tables::name( 'audit_log' ),
			array(
				'occurred_at'   => CloudChat_Tables::now(),
				'actor_type'    => 'wp_user',
				'actor_user_id' => get_current_user_id(),
				'action'        => $action,
				'object_type'   => 'contact',
				'object_id'     => $contact,
				'details_json'  => wp_json_encode( array( 'via' => 'wordpress_privacy_tools' ) ),
			),
			array( '%s', '%s', '%d', '%s', '%s', '%d', '%s' )
		);
	}
}
