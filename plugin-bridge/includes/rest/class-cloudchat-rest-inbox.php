<?php
/**
 * Inbox routes: conversations, threads, replies and media.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * What agents read and send. Replies are outbox rows: they are kept even while
 * the daemon is down and sent when it is back.
 */
class CloudChat_REST_Inbox extends CloudChat_REST_Controller {

	/** Messages shown in a thread. */
	const THREAD_LIMIT = 200;

	/**
	 * Registers the routes.
	 */
	public function register_routes() {
		$agent = CloudChat_Roles::AGENT;
		$this->route(
			'/conversations',
			'GET',
			array( $this, 'list_conversations' ),
			$agent,
			array_merge(
				self::paging_args(),
				array(
					'search' => array(
						'type'      => 'string',
						'maxLength' => 100,
						'default'   => '',
					),
				)
			)
		);
		$this->route( '/conversations/(?P<id>\d+)', 'GET', array( $this, 'get_conversation' ), $agent, array( 'id' => self::id_arg() ) );
		$this->route( '/conversations/(?P<id>\d+)/read', 'POST', array( $this, 'mark_read' ), $agent, array( 'id' => self::id_arg() ) );
		$this->route(
			'/conversations/(?P<id>\d+)/messages',
			'POST',
			array( $this, 'send_message' ),
			$agent,
			array(
				'id'          => self::id_arg(),
				'text'        => array(
					'type'      => 'string',
					'minLength' => 1,
					'maxLength' => 4096,
				),
				'template_id' => array(
					'type'    => 'integer',
					'minimum' => 1,
				),
				'parameters'  => array(
					'type'     => 'array',
					'items'    => array(
						'type'      => 'string',
						'maxLength' => 1024,
					),
					'maxItems' => 50,
					'default'  => array(),
				),
			)
		);
		$this->route( '/media/(?P<id>\d+)', 'GET', array( $this, 'get_media' ), $agent, array( 'id' => self::id_arg() ) );
	}

	/**
	 * GET conversations.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response
	 */
	public function list_conversations( WP_REST_Request $request ) {
		global $wpdb;
		$conversations = CloudChat_Tables::name( 'conversations' );
		$contacts      = CloudChat_Tables::name( 'contacts' );
		$messages      = CloudChat_Tables::name( 'messages' );
		$where         = '1=1';
		$values        = array();
		$search        = trim( (string) $request['search'] );
		if ( '' !== $search ) {
			$like   = '%' . $wpdb->esc_like( $search ) . '%';
			$where  = '(c.name LIKE %s OR c.profile_name LIKE %s';
			$values = array( $like, $like );
			$digits = preg_replace( '/[^0-9]/', '', $search );
			if ( strlen( $digits ) >= 3 ) {
				$where   .= ' OR c.wa_id LIKE %s OR c.phone LIKE %s';
				$values[] = '%' . $digits . '%';
				$values[] = '%' . $digits . '%';
			}
			$where .= ')';
		}
		$per_page = (int) $request['per_page'];
		$offset   = ( (int) $request['page'] - 1 ) * $per_page;
		// phpcs:disable WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table names come from $wpdb->prefix only.
		$total = (int) $wpdb->get_var(
			empty( $values ) ? "SELECT COUNT(*) FROM {$conversations} cv"
				: $wpdb->prepare( "SELECT COUNT(*) FROM {$conversations} cv JOIN {$contacts} c ON c.id = cv.contact_id WHERE {$where}", $values )
		);
		$rows  = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT cv.id, cv.account_id, cv.contact_id, cv.unread_count, cv.state, cv.last_message_at, cv.last_inbound_at,
				        c.name, c.profile_name, c.wa_id, c.phone, m.type AS last_type, m.direction AS last_direction,
				        m.body AS last_body, m.status AS last_status
				 FROM {$conversations} cv
				 JOIN {$contacts} c ON c.id = cv.contact_id
				 LEFT JOIN {$messages} m ON m.id = cv.last_message_id
				 WHERE {$where}
				 ORDER BY cv.last_message_at DESC, cv.id DESC
				 LIMIT %d OFFSET %d",
				array_merge( $values, array( $per_page, $offset ) )
			),
			ARRAY_A
		);
		// phpcs:enable
		return new WP_REST_Response(
			array(
				'conversations' => array_map( array( __CLASS__, 'conversation_json' ), $rows ),
				'total'         => $total,
			)
		);
	}

	/**
	 * GET conversations/{id}: the thread.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function get_conversation( WP_REST_Request $request ) {
		global $wpdb;
		$conversation = self::find_conversation( (int) $request['id'] );
		if ( null === $conversation ) {
			return self::not_found( __( 'conversation', 'cloudchat' ) );
		}
		$messages = CloudChat_Tables::name( 'messages' );
		$media    = CloudChat_Tables::name( 'media' );
		$outbox   = CloudChat_Tables::name( 'outbox' );
		// phpcs:disable WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table names come from $wpdb->prefix only.
		$rows = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT m.id, m.wamid, m.direction, m.type, m.source, m.body, m.payload_json, m.context_wamid, m.target_wamid,
				        m.status, m.error_code, m.error_details, m.message_at, m.revoked_at,
				        md.id AS media_row_id, md.mime_type, md.file_name, md.state AS media_state
				 FROM {$messages} m
				 LEFT JOIN {$media} md ON md.id = m.media_id
				 WHERE m.contact_id = %d AND m.account_id = %d
				 ORDER BY m.message_at DESC, m.id DESC
				 LIMIT %d",
				$conversation['contact_id'],
				$conversation['account_id'],
				self::THREAD_LIMIT
			),
			ARRAY_A
		);
		$rows    = array_reverse( $rows );
		$quoted  = self::quoted_messages( $rows );
		$pending = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT id, type, payload_json, state, state_reason, error_code, error_details, created_at
				 FROM {$outbox}
				 WHERE contact_id = %d AND account_id = %d AND type <> 'mark_read'
				   AND (state IN ('queued', 'sending') OR (state = 'failed' AND message_id IS NULL))
				 ORDER BY id",
				$conversation['contact_id'],
				$conversation['account_id']
			),
			ARRAY_A
		);
		// phpcs:enable
		$thread = array();
		foreach ( $rows as $row ) {
			$thread[] = self::message_json( $row, $quoted );
		}
		foreach ( $pending as $row ) {
			$thread[] = self::outbox_json( $row );
		}
		return new WP_REST_Response(
			array(
				'conversation' => self::conversation_json( $conversation ),
				'messages'     => $thread,
			)
		);
	}

	/**
	 * POST conversations/{id}/read: the agent has seen the thread.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function mark_read( WP_REST_Request $request ) {
		global $wpdb;
		$conversation = self::find_conversation( (int) $request['id'] );
		if ( null === $conversation ) {
			return self::not_found( __( 'conversation', 'cloudchat' ) );
		}
		$now = CloudChat_Tables::now();
		$wpdb->update(
			CloudChat_Tables::name( 'conversations' ),
			array(
				'unread_count' => 0,
				'last_read_at' => $now,
				'updated_at'   => $now,
			),
			array( 'id' => $conversation['id'] ),
			array( '%d', '%s', '%s' ),
			array( '%d' )
		);
		$conversation['unread_count'] = 0;
		return new WP_REST_Response( array( 'conversation' => self::conversation_json( $conversation ) ) );
	}

	/**
	 * POST conversations/{id}/messages: queues a reply (text inside the window, or a template).
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function send_message( WP_REST_Request $request ) {
		global $wpdb;
		$conversation = self::find_conversation( (int) $request['id'] );
		if ( null === $conversation ) {
			return self::not_found( __( 'conversation', 'cloudchat' ) );
		}
		$text        = isset( $request['text'] ) ? trim( (string) $request['text'] ) : '';
		$template_id = isset( $request['template_id'] ) ? (int) $request['template_id'] : 0;
		if ( ( '' === $text ) === ( 0 === $template_id ) ) {
			return self::bad_request( 'invalid_message', __( 'Send either "text" or "template_id" (with "parameters").', 'cloudchat' ) );
		}
		if ( '' !== $text ) {
			$window = CloudChat_Format::service_window( $conversation['last_inbound_at'] );
			if ( ! $window['open'] ) {
				return new WP_Error(
					'cloudchat_window_closed',
					__( 'WhatsApp allows free-form replies only within 24 hours of the customer\'s last message. Send an approved template instead.', 'cloudchat' ),
					array( 'status' => 409 )
				);
			}
			$type    = 'text';
			$payload = array(
				'type' => 'text',
				'text' => array( 'body' => $text ),
			);
		} else {
			$template = CloudChat_REST_Templates::find_sendable( $template_id, (int) $conversation['account_id'] );
			if ( is_wp_error( $template ) ) {
				return $template;
			}
			$payload = CloudChat_Format::template_payload( $template, (array) $request['parameters'] );
			if ( is_wp_error( $payload ) ) {
				return $payload;
			}
			$type = 'template';
		}
		$now = CloudChat_Tables::now();
		$wpdb->insert(
			CloudChat_Tables::name( 'outbox' ),
			array(
				'account_id'         => $conversation['account_id'],
				'contact_id'         => $conversation['contact_id'],
				'priority'           => 0,
				'type'               => $type,
				'payload_json'       => wp_json_encode( $payload ),
				'state'              => 'queued',
				'source'             => 'agent',
				'created_by_user_id' => get_current_user_id(),
				'next_attempt_at'    => $now,
				'attempt_count'      => 0,
				'created_at'         => $now,
				'updated_at'         => $now,
			),
			array( '%d', '%d', '%d', '%s', '%s', '%s', '%s', '%d', '%s', '%d', '%s', '%s' )
		);
		$id = (int) $wpdb->insert_id;
		if ( 0 === $id ) {
			return new WP_Error( 'cloudchat_database_error', __( 'The reply could not be queued. The details are in the PHP error log.', 'cloudchat' ), array( 'status' => 500 ) );
		}
		// When the daemon is down the reply stays queued; it sends it once it is back.
		$notified = ( new CloudChat_Daemon_Client() )->notify( 'outbox' );
		$row = array(
			'id'            => $id,
			'type'          => $type,
			'payload_json'  => wp_json_encode( $payload ),
			'state'         => 'queued',
			'state_reason'  => null,
			'error_code'    => null,
			'error_details' => null,
			'created_at'    => $now,
		);
		return new WP_REST_Response(
			array(
				'message'         => self::outbox_json( $row ),
				'daemon_notified' => $notified,
			),
			201
		);
	}

	/**
	 * GET media/{id}: streams a stored file to an agent.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_Error|void Exits after sending the file.
	 */
	public function get_media( WP_REST_Request $request ) {
		global $wpdb;
		$table = CloudChat_Tables::name( 'media' );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
		$row = $wpdb->get_row( $wpdb->prepare( "SELECT id, mime_type, file_name, storage_path, state FROM {$table} WHERE id = %d", (int) $request['id'] ), ARRAY_A );
		$path = null === $row ? null : self::media_file( $row );
		if ( null === $path ) {
			return self::not_found( __( 'stored media file', 'cloudchat' ) );
		}
		$mime = preg_match( '#^[a-z]+/[a-z0-9.+\-]+$#i', (string) $row['mime_type'] ) ? $row['mime_type'] : 'application/octet-stream';
		nocache_headers();
		header( 'Content-Type: ' . $mime );
		header( 'Content-Length: ' . filesize( $path ) );
		header( 'X-Content-Type-Options: nosniff' );
		// Never let an uploaded file run as a page in the admin's origin.
		header( "Content-Security-Policy: default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox" );
		$inline = preg_match( '#^(image|audio|video)/#', $mime ) && 'image/svg+xml' !== $mime;
		$name   = sanitize_file_name( null !== $row['file_name'] && '' !== $row['file_name'] ? $row['file_name'] : basename( $path ) );
		header( 'Content-Disposition: ' . ( $inline ? 'inline' : 'attachment' ) . '; filename="' . $name . '"' );
		readfile( $path ); // phpcs:ignore WordPress.WP.AlternativeFunctions.file_system_operations_readfile
		exit;
	}

	/**
	 * The stored file of a media row, only if it is inside the site's CloudChat media directory.
	 *
	 * @param array $row Media row.
	 * @return string|null
	 */
	private static function media_file( $row ) {
		if ( 'stored' !== $row['state'] || empty( $row['storage_path'] ) ) {
			return null;
		}
		$uploads = wp_upload_dir( null, false );
		$root    = realpath( $uploads['basedir'] . '/cloudchat' );
		$path    = realpath( $uploads['basedir'] . '/cloudchat/' . $row['storage_path'] );
		if ( false === $root || false === $path || 0 !== strpos( $path, $root . DIRECTORY_SEPARATOR ) || ! is_file( $path ) ) {
			return null;
		}
		return $path;
	}

	/**
	 * A conversation row with its contact, or null.
	 *
	 * @param int $id Conversation id.
	 * @return array|null
	 */
	private static function find_conversation( $id ) {
		global $wpdb;
		$conversations = CloudChat_Tables::name( 'conversations' );
		$contacts      = CloudChat_Tables::name( 'contacts' );
		$messages      = CloudChat_Tables::name( 'messages' );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table names from $wpdb->prefix.
		return $wpdb->get_row(
			$wpdb->prepare(
				"SELECT cv.id, cv.account_id, cv.contact_id, cv.unread_count, cv.state, cv.last_message_at, cv.last_inbound_at,
				        c.name, c.profile_name, c.wa_id, c.phone, m.type AS last_type, m.direction AS last_direction,
				        m.body AS last_body, m.status AS last_status
				 FROM {$conversations} cv
				 JOIN {$contacts} c ON c.id = cv.contact_id
				 LEFT JOIN {$messages} m ON m.id = cv.last_message_id
				 WHERE cv.id = %d",
				$id
			),
			ARRAY_A
		);
	}

	/**
	 * The messages quoted by a thread's replies, by wamid.
	 *
	 * @param array $rows Thread rows.
	 * @return array wamid => row.
	 */
	private static function quoted_messages( $rows ) {
		global $wpdb;
		$wamids = array();
		foreach ( $rows as $row ) {
			if ( ! empty( $row['context_wamid'] ) ) {
				$wamids[] = $row['context_wamid'];
			}
		}
		if ( empty( $wamids ) ) {
			return array();
		}
		$wamids       = array_values( array_unique( $wamids ) );
		$placeholders = implode( ',', array_fill( 0, count( $wamids ), '%s' ) );
		$messages     = CloudChat_Tables::name( 'messages' );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.PreparedSQLPlaceholders -- table from $wpdb->prefix; placeholders built above.
		$found = $wpdb->get_results( $wpdb->prepare( "SELECT id, wamid, type, body FROM {$messages} WHERE wamid IN ({$placeholders})", $wamids ), ARRAY_A );
		$by_wamid = array();
		foreach ( $found as $row ) {
			$by_wamid[ $row['wamid'] ] = $row;
		}
		return $by_wamid;
	}

	/**
	 * A conversation as the screens read it.
	 *
	 * @param array $row Conversation row joined with its contact and last message.
	 * @return array
	 */
	public static function conversation_json( $row ) {
		$window = CloudChat_Format::service_window( $row['last_inbound_at'] );
		return array(
			'id'               => (int) $row['id'],
			'account_id'       => (int) $row['account_id'],
			'contact'          => array(
				'id'    => (int) $row['contact_id'],
				'name'  => self::contact_name( $row ),
				'wa_id' => $row['wa_id'],
				'phone' => $row['phone'],
			),
			'unread_count'     => (int) $row['unread_count'],
			'state'            => $row['state'],
			'last_message'     => null === $row['last_type'] ? null : array(
				'type'      => $row['last_type'],
				'direction' => $row['last_direction'],
				'preview'   => CloudChat_Format::preview( $row['last_type'], $row['last_body'] ),
				'status'    => $row['last_status'],
			),
			'last_message_at'  => CloudChat_Tables::iso( $row['last_message_at'] ),
			'last_inbound_at'  => CloudChat_Tables::iso( $row['last_inbound_at'] ),
			'window_open'      => $window['open'],
			'window_closes_at' => $window['closes_at'],
		);
	}

	/**
	 * The name to show: the site's name for the contact, else the WhatsApp profile name, else the number.
	 *
	 * @param array $row Row with name, profile_name, wa_id, phone.
	 * @return string
	 */
	public static function contact_name( $row ) {
		foreach ( array( 'name', 'profile_name' ) as $column ) {
			if ( isset( $row[ $column ] ) && '' !== trim( (string) $row[ $column ] ) ) {
				return (string) $row[ $column ];
			}
		}
		return CloudChat_Phone::display( ! empty( $row['wa_id'] ) ? $row['wa_id'] : ( $row['phone'] ?? '' ) );
	}

	/**
	 * A message row as the thread shows it.
	 *
	 * @param array $row    Message row joined with its media.
	 * @param array $quoted Quoted messages by wamid.
	 * @return array
	 */
	private static function message_json( $row, $quoted ) {
		$payload = null === $row['payload_json'] ? null : json_decode( $row['payload_json'], true );
		$revoked = null !== $row['revoked_at'];
		$context = null;
		if ( ! empty( $row['context_wamid'] ) ) {
			$original = isset( $quoted[ $row['context_wamid'] ] ) ? $quoted[ $row['context_wamid'] ] : null;
			$context  = array(
				'id'      => null === $original ? null : 'm' . $original['id'],
				'type'    => null === $original ? null : $original['type'],
				'preview' => null === $original ? __( 'An earlier message', 'cloudchat' ) : CloudChat_Format::preview( $original['type'], $original['body'] ),
			);
		}
		$media = null;
		if ( null !== $row['media_row_id'] ) {
			$media = array(
				'id'        => (int) $row['media_row_id'],
				'mime_type' => $row['mime_type'],
				'file_name' => $row['file_name'],
				'state'     => $row['media_state'],
				'url'       => 'stored' === $row['media_state'] ? add_query_arg( '_wpnonce', wp_create_nonce( 'wp_rest' ), rest_url( 'cloudchat/v1/media/' . (int) $row['media_row_id'] ) ) : null,
			);
		}
		return array(
			'id'          => 'm' . $row['id'],
			'wamid'       => $row['wamid'],
			'direction'   => $row['direction'],
			'type'        => $row['type'],
			'source'      => $row['source'],
			'body'        => $revoked ? null : $row['body'],
			'revoked'     => $revoked,
			'status'      => $row['status'],
			'error'       => null === $row['error_code'] && 'failed' !== $row['status'] ? null : array(
				'code'  => null === $row['error_code'] ? null : (int) $row['error_code'],
				'title' => null !== $row['error_details'] ? $row['error_details'] : __( 'Not delivered', 'cloudchat' ),
			),
			'at'          => CloudChat_Tables::iso( $row['message_at'] ),
			'context'     => $context,
			'reaction_to' => 'reaction' === $row['type'] ? $row['target_wamid'] : null,
			'media'       => $revoked ? null : $media,
			'location'    => $revoked ? null : CloudChat_Format::location( $payload ),
		);
	}

	/**
	 * An outbox row not yet sent, shown at the end of the thread.
	 *
	 * @param array $row Outbox row.
	 * @return array
	 */
	private static function outbox_json( $row ) {
		$payload = json_decode( (string) $row['payload_json'], true );
		$body    = null;
		if ( isset( $payload['text']['body'] ) ) {
			$body = (string) $payload['text']['body'];
		} elseif ( isset( $payload['template']['name'] ) ) {
			/* translators: %s: template name. */
			$body = sprintf( __( 'Template: %s', 'cloudchat' ), $payload['template']['name'] );
		}
		$failed = 'failed' === $row['state'];
		return array(
			'id'          => 'o' . $row['id'],
			'wamid'       => null,
			'direction'   => 'outbound',
			'type'        => $row['type'],
			'source'      => 'agent',
			'body'        => $body,
			'revoked'     => false,
			'status'      => $row['state'],
			'error'       => $failed ? array(
				'code'  => null === $row['error_code'] ? null : (int) $row['error_code'],
				'title' => null !== $row['error_details'] ? $row['error_details'] : (string) $row['state_reason'],
			) : null,
			'at'          => CloudChat_Tables::iso( $row['created_at'] ),
			'context'     => null,
			'reaction_to' => null,
			'media'       => null,
			'location'    => null,
		);
	}
}
