<?php
/**
 * Contact routes: list, tags, consent, import, export and erasure.
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

/**
 * Agents see contacts and keep their tags and consent; importing, exporting
 * and erasing personal data need `cloudchat_manage`.
 */
class CloudChat_REST_Contacts extends CloudChat_REST_Controller {

	/**
	 * Registers the routes.
	 */
	public function register_routes() {
		$agent  = CloudChat_Roles::AGENT;
		$manage = CloudChat_Roles::MANAGE;
		$this->route(
			'/contacts',
			'GET',
			array( $this, 'list_contacts' ),
			$agent,
			array_merge(
				self::paging_args(),
				array(
					'search'  => array(
						'type'      => 'string',
						'maxLength' => 100,
						'default'   => '',
					),
					'tag'     => array(
						'type'      => 'string',
						'maxLength' => 64,
						'default'   => '',
					),
					'consent' => array(
						'type'    => 'string',
						'enum'    => array( '', 'unknown', 'opted_in', 'opted_out' ),
						'default' => '',
					),
				)
			)
		);
		$tags_arg = array(
			'type'     => 'array',
			'items'    => array(
				'type'      => 'string',
				'maxLength' => 64,
			),
			'maxItems' => 50,
		);
		$this->route(
			'/contacts/(?P<id>\d+)/tags',
			'POST',
			array( $this, 'set_tags' ),
			$agent,
			array(
				'id'   => self::id_arg(),
				'tags' => array_merge( $tags_arg, array( 'required' => true ) ),
			)
		);
		$this->route(
			'/contacts/(?P<id>\d+)/consent',
			'POST',
			array( $this, 'set_consent' ),
			$agent,
			array(
				'id'    => self::id_arg(),
				'state' => array(
					'type'     => 'string',
					'enum'     => array( 'opted_in', 'opted_out' ),
					'required' => true,
				),
				'note'  => array(
					'type'      => 'string',
					'maxLength' => 255,
					'default'   => '',
				),
			)
		);
		$csv_args = array(
			'csv'          => array(
				'type'      => 'string',
				'required'  => true,
				'minLength' => 1,
				'maxLength' => 8000000,
			),
			'phone_column' => array(
				'type'      => 'string',
				'maxLength' => 100,
				'default'   => '',
			),
			'name_column'  => array(
				'type'      => 'string',
				'maxLength' => 100,
				'default'   => '',
			),
		);
		$this->route( '/contacts/import/preview', 'POST', array( $this, 'preview_import' ), $manage, $csv_args );
		$this->route(
			'/contacts/import',
			'POST',
			array( $this, 'import' ),
			$manage,
			array_merge(
				$csv_args,
				array(
					'account_id' => self::id_arg(),
					'tags'       => array_merge( $tags_arg, array( 'default' => array() ) ),
					'opted_in'   => array(
						'type'    => 'boolean',
						'default' => false,
					),
				)
			)
		);
		$this->route(
			'/contacts/(?P<id>\d+)',
			'POST',
			array( $this, 'correct' ),
			$manage,
			array(
				'id'     => self::id_arg(),
				'name'   => array(
					'type'      => 'string',
					'maxLength' => 255,
				),
				'email'  => array(
					'type'              => 'string',
					'maxLength'         => 254,
					'validate_callback' => array( __CLASS__, 'valid_email_or_empty' ),
				),
				'locale' => array(
					'type'    => 'string',
					'pattern' => '^([a-z]{2,3}(_[A-Z]{2})?)?$',
				),
			)
		);
		$this->route(
			'/contacts/(?P<id>\d+)/restriction',
			'POST',
			array( $this, 'set_restriction' ),
			$manage,
			array(
				'id'         => self::id_arg(),
				'restricted' => array(
					'type'     => 'boolean',
					'required' => true,
				),
				'note'       => array(
					'type'      => 'string',
					'maxLength' => 255,
					'default'   => '',
				),
			)
		);
		$this->route( '/contacts/(?P<id>\d+)/export', 'GET', array( $this, 'export' ), $manage, array( 'id' => self::id_arg() ) );
		$this->route(
			'/contacts/(?P<id>\d+)/erase',
			'POST',
			array( $this, 'erase' ),
			$manage,
			array(
				'id'      => self::id_arg(),
				'confirm' => array(
					'type'     => 'boolean',
					'required' => true,
				),
			)
		);
	}

	/**
	 * GET contacts.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response
	 */
	public function list_contacts( WP_REST_Request $request ) {
		global $wpdb;
		$contacts = CloudChat_Tables::name( 'contacts' );
		$tags     = CloudChat_Tables::name( 'contact_tags' );
		$where    = array( '1=1' );
		$values   = array();
		$search   = trim( (string) $request['search'] );
		if ( '' !== $search ) {
			$like   = '%' . $wpdb->esc_like( $search ) . '%';
			$clause = 'c.name LIKE %s OR c.profile_name LIKE %s OR c.email LIKE %s';
			array_push( $values, $like, $like, $like );
			$digits = preg_replace( '/[^0-9]/', '', $search );
			if ( strlen( $digits ) >= 3 ) {
				$clause .= ' OR c.wa_id LIKE %s OR c.phone LIKE %s';
				array_push( $values, '%' . $digits . '%', '%' . $digits . '%' );
			}
			$where[] = '(' . $clause . ')';
		}
		if ( '' !== (string) $request['tag'] ) {
			$where[]  = "EXISTS (SELECT 1 FROM {$tags} t WHERE t.contact_id = c.id AND t.tag = %s)";
			$values[] = (string) $request['tag'];
		}
		if ( '' !== (string) $request['consent'] ) {
			$where[]  = 'c.consent_state = %s';
			$values[] = (string) $request['consent'];
		}
		$where    = implode( ' AND ', $where );
		$per_page = (int) $request['per_page'];
		$offset   = ( (int) $request['page'] - 1 ) * $per_page;
		// phpcs:disable WordPress.DB.PreparedSQL.InterpolatedNotPrepared,WordPress.DB.PreparedSQL.NotPrepared -- table names from $wpdb->prefix; values prepared.
		$count_sql = "SELECT COUNT(*) FROM {$contacts} c WHERE {$where}";
		$total     = (int) $wpdb->get_var( empty( $values ) ? $count_sql : $wpdb->prepare( $count_sql, $values ) );
		$rows      = $wpdb->get_results(
			$wpdb->prepare(
				"SELECT c.* FROM {$contacts} c WHERE {$where} ORDER BY c.id DESC LIMIT %d OFFSET %d",
				array_merge( $values, array( $per_page, $offset ) )
			),
			ARRAY_A
		);
		$all_tags = $wpdb->get_col( "SELECT DISTINCT tag FROM {$tags} ORDER BY tag LIMIT 500" );
		// phpcs:enable
		$tags_by_contact = self::tags_of( wp_list_pluck( $rows, 'id' ) );
		$list            = array();
		foreach ( $rows as $row ) {
			$list[] = self::contact_json( $row, $tags_by_contact[ (int) $row['id'] ] ?? array() );
		}
		return new WP_REST_Response(
			array(
				'contacts' => $list,
				'total'    => $total,
				'tags'     => $all_tags,
			)
		);
	}

	/**
	 * POST contacts/{id}/tags: replaces the contact's tags.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function set_tags( WP_REST_Request $request ) {
		global $wpdb;
		$contact = self::find( (int) $request['id'] );
		if ( null === $contact ) {
			return self::not_found( __( 'contact', 'cloudchat' ) );
		}
		$tags = self::clean_tags( (array) $request['tags'] );
		$wpdb->delete( CloudChat_Tables::name( 'contact_tags' ), array( 'contact_id' => (int) $contact['id'] ), array( '%d' ) );
		self::add_tags( (int) $contact['id'], $tags );
		return new WP_REST_Response( array( 'contact' => self::contact_json( $contact, $tags ) ) );
	}

	/**
	 * POST contacts/{id}/consent: an agent records the person's choice.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function set_consent( WP_REST_Request $request ) {
		$contact = self::find( (int) $request['id'] );
		if ( null === $contact ) {
			return self::not_found( __( 'contact', 'cloudchat' ) );
		}
		$state = (string) $request['state'];
		if ( $state !== $contact['consent_state'] ) {
			$note = sanitize_text_field( (string) $request['note'] );
			self::record_consent( (int) $contact['id'], (int) $contact['account_id'], $state, 'agent', '' === $note ? null : $note );
			self::audit( 'contact.consent_changed', 'contact', (int) $contact['id'], array( 'to' => $state ) );
			$contact = self::find( (int) $contact['id'] );
		}
		return new WP_REST_Response( array( 'contact' => self::contact_json( $contact, self::tags_of( array( $contact['id'] ) )[ (int) $contact['id'] ] ?? array() ) ) );
	}

	/**
	 * POST contacts/import/preview: what an import would do, writing nothing.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function preview_import( WP_REST_Request $request ) {
		$import = CloudChat_Contact_Import::read( (string) $request['csv'], (string) $request['phone_column'], (string) $request['name_column'] );
		if ( is_wp_error( $import ) ) {
			return $import;
		}
		$rows    = $import->rows();
		$invalid = count( array_filter( wp_list_pluck( $rows, 'error' ) ) );
		$shown   = array();
		foreach ( array_slice( $rows, 0, 200 ) as $row ) {
			$shown[] = array(
				'line'  => $row['line'],
				'phone' => $row['phone'],
				'name'  => $row['name'],
				'error' => $row['error'],
			);
		}
		return new WP_REST_Response(
			array(
				'columns'      => $import->columns(),
				'phone_column' => $import->phone_column(),
				'rows'         => $shown,
				'valid'        => count( $rows ) - $invalid,
				'invalid'      => $invalid,
			)
		);
	}

	/**
	 * POST contacts/import.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function import( WP_REST_Request $request ) {
		global $wpdb;
		$accounts = CloudChat_Tables::name( 'accounts' );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
		if ( null === $wpdb->get_var( $wpdb->prepare( "SELECT id FROM {$accounts} WHERE id = %d", (int) $request['account_id'] ) ) ) {
			return self::not_found( __( 'business number', 'cloudchat' ) );
		}
		$import = CloudChat_Contact_Import::read( (string) $request['csv'], (string) $request['phone_column'], (string) $request['name_column'] );
		if ( is_wp_error( $import ) ) {
			return $import;
		}
		$report = $import->run( (int) $request['account_id'], self::clean_tags( (array) $request['tags'] ), (bool) $request['opted_in'] );
		self::audit(
			'contact.imported',
			'account',
			(int) $request['account_id'],
			array(
				'created' => $report['created'],
				'updated' => $report['updated'],
				'errors'  => count( $report['errors'] ),
			)
		);
		return new WP_REST_Response( $report );
	}

	/**
	 * Validates an email argument: an address, or empty to clear it.
	 *
	 * @param mixed $value The value.
	 * @return true|WP_Error
	 */
	public static function valid_email_or_empty( $value ) {
		if ( ! is_string( $value ) ) {
			return new WP_Error( 'rest_invalid_param', __( 'The email address must be text.', 'cloudchat' ), array( 'status' => 400 ) );
		}
		if ( '' === trim( $value ) || is_email( trim( $value ) ) ) {
			return true;
		}
		return new WP_Error( 'rest_invalid_param', __( 'That is not an email address.', 'cloudchat' ), array( 'status' => 400 ) );
	}

	/**
	 * POST contacts/{id}: corrects the fields the site owns (name, email, locale).
	 * An empty value clears a field; the audit entry names the fields, never their values.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function correct( WP_REST_Request $request ) {
		global $wpdb;
		$contact = self::find( (int) $request['id'] );
		if ( null === $contact ) {
			return self::not_found( __( 'contact', 'cloudchat' ) );
		}
		$changes = array();
		foreach ( array( 'name', 'email', 'locale' ) as $field ) {
			if ( ! $request->has_param( $field ) || null === $request[ $field ] ) {
				continue;
			}
			$value = trim( 'email' === $field ? sanitize_email( (string) $request[ $field ] ) : sanitize_text_field( (string) $request[ $field ] ) );
			$value = '' === $value ? null : $value;
			if ( $value !== $contact[ $field ] ) {
				$changes[ $field ] = $value;
			}
		}
		if ( ! empty( $changes ) ) {
			$changes['updated_at'] = CloudChat_Tables::now();
			$wpdb->update( CloudChat_Tables::name( 'contacts' ), $changes, array( 'id' => (int) $contact['id'] ), null, array( '%d' ) );
			unset( $changes['updated_at'] );
			self::audit( 'contact.corrected', 'contact', (int) $contact['id'], array( 'fields' => array_keys( $changes ) ) );
			$contact = self::find( (int) $contact['id'] );
		}
		return new WP_REST_Response( array( 'contact' => self::contact_json( $contact, self::tags_of( array( $contact['id'] ) )[ (int) $contact['id'] ] ?? array() ) ) );
	}

	/**
	 * POST contacts/{id}/restriction: a restricted contact is kept but never messaged
	 * by campaigns or automations. The change is kept in the consent history.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function set_restriction( WP_REST_Request $request ) {
		global $wpdb;
		$contact = self::find( (int) $request['id'] );
		if ( null === $contact ) {
			return self::not_found( __( 'contact', 'cloudchat' ) );
		}
		$restrict = (bool) $request['restricted'];
		if ( $restrict !== ( null !== $contact['restricted_at'] ) ) {
			$now   = CloudChat_Tables::now();
			$event = $restrict ? 'restricted' : 'unrestricted';
			$note  = sanitize_text_field( (string) $request['note'] );
			$wpdb->query( 'START TRANSACTION' );
			$wpdb->update(
				CloudChat_Tables::name( 'contacts' ),
				array(
					'restricted_at' => $restrict ? $now : null,
					'updated_at'    => $now,
				),
				array( 'id' => (int) $contact['id'] ),
				null,
				array( '%d' )
			);
			$wpdb->insert(
				CloudChat_Tables::name( 'consent_events' ),
				array(
					'account_id'    => (int) $contact['account_id'],
					'contact_id'    => (int) $contact['id'],
					'event'         => $event,
					'source'        => 'agent',
					'detail'        => '' === $note ? null : $note,
					'actor_user_id' => get_current_user_id(),
					'occurred_at'   => $now,
					'created_at'    => $now,
				),
				array( '%d', '%d', '%s', '%s', '%s', '%d', '%s', '%s' )
			);
			$wpdb->query( '' === $wpdb->last_error ? 'COMMIT' : 'ROLLBACK' );
			self::audit( 'contact.' . $event, 'contact', (int) $contact['id'] );
			$contact = self::find( (int) $contact['id'] );
		}
		return new WP_REST_Response( array( 'contact' => self::contact_json( $contact, self::tags_of( array( $contact['id'] ) )[ (int) $contact['id'] ] ?? array() ) ) );
	}

	/**
	 * GET contacts/{id}/export: the contact's personal data.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function export( WP_REST_Request $request ) {
		$document = CloudChat_Personal_Data::export_contact( (int) $request['id'] );
		if ( null === $document ) {
			return self::not_found( __( 'contact', 'cloudchat' ) );
		}
		self::audit( 'contact.exported', 'contact', (int) $request['id'] );
		$response = new WP_REST_Response( $document );
		$response->header( 'Content-Disposition', 'attachment; filename="contact-' . (int) $request['id'] . '.json"' );
		return $response;
	}

	/**
	 * POST contacts/{id}/erase: the daemon erases the contact everywhere, files included.
	 *
	 * @param WP_REST_Request $request The request.
	 * @return WP_REST_Response|WP_Error
	 */
	public function erase( WP_REST_Request $request ) {
		if ( true !== $request['confirm'] ) {
			return self::bad_request( 'not_confirmed', __( 'Erasing cannot be undone; send "confirm": true to go ahead.', 'cloudchat' ) );
		}
		if ( null === self::find( (int) $request['id'] ) ) {
			return self::not_found( __( 'contact', 'cloudchat' ) );
		}
		$answer = ( new CloudChat_Daemon_Client() )->request( 'POST', '/v1/contacts/' . (int) $request['id'] . '/erase', array( 'actor_user_id' => get_current_user_id() ), 120 );
		return is_wp_error( $answer ) ? $answer : new WP_REST_Response( $answer );
	}

	/**
	 * Adds tags to a contact (a tag already there stays once).
	 *
	 * @param int      $contact_id The contact.
	 * @param string[] $tags       Clean tags.
	 */
	public static function add_tags( $contact_id, $tags ) {
		global $wpdb;
		$table = CloudChat_Tables::name( 'contact_tags' );
		foreach ( $tags as $tag ) {
			// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
			$wpdb->query( $wpdb->prepare( "INSERT IGNORE INTO {$table} (contact_id, tag, created_at) VALUES (%d, %s, %s)", $contact_id, $tag, CloudChat_Tables::now() ) );
		}
	}

	/**
	 * Changes a contact's consent and records the event, together.
	 *
	 * @param int         $contact_id The contact.
	 * @param int         $account_id Its account.
	 * @param string      $state      opted_in or opted_out.
	 * @param string      $source     agent, import…
	 * @param string|null $detail     Why (never a message body).
	 */
	public static function record_consent( $contact_id, $account_id, $state, $source, $detail ) {
		global $wpdb;
		$now = CloudChat_Tables::now();
		$wpdb->query( 'START TRANSACTION' );
		$wpdb->update(
			CloudChat_Tables::name( 'contacts' ),
			array(
				'consent_state'      => $state,
				'consent_source'     => $source,
				'consent_changed_at' => $now,
				'updated_at'         => $now,
			),
			array( 'id' => $contact_id )
		);
		$wpdb->insert(
			CloudChat_Tables::name( 'consent_events' ),
			array(
				'account_id'    => $account_id,
				'contact_id'    => $contact_id,
				'event'         => $state,
				'source'        => $source,
				'detail'        => $detail,
				'actor_user_id' => get_current_user_id(),
				'occurred_at'   => $now,
				'created_at'    => $now,
			),
			array( '%d', '%d', '%s', '%s', '%s', '%d', '%s', '%s' )
		);
		$wpdb->query( '' === $wpdb->last_error ? 'COMMIT' : 'ROLLBACK' );
	}

	/**
	 * Trimmed, unique, non-empty tags.
	 *
	 * @param array $tags Tags as given.
	 * @return string[]
	 */
	private static function clean_tags( $tags ) {
		$clean = array();
		foreach ( $tags as $tag ) {
			$tag = trim( sanitize_text_field( (string) $tag ) );
			if ( '' !== $tag && ! in_array( mb_strtolower( $tag ), array_map( 'mb_strtolower', $clean ), true ) ) {
				$clean[] = mb_substr( $tag, 0, 64 );
			}
		}
		return $clean;
	}

	/**
	 * A contact row, or null.
	 *
	 * @param int $id Contact id.
	 * @return array|null
	 */
	private static function find( $id ) {
		global $wpdb;
		$table = CloudChat_Tables::name( 'contacts' );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix.
		return $wpdb->get_row( $wpdb->prepare( "SELECT * FROM {$table} WHERE id = %d", $id ), ARRAY_A );
	}

	/**
	 * Tags of several contacts.
	 *
	 * @param array $ids Contact ids.
	 * @return array id => tags.
	 */
	private static function tags_of( $ids ) {
		global $wpdb;
		$ids = array_map( 'intval', (array) $ids );
		if ( empty( $ids ) ) {
			return array();
		}
		$table = CloudChat_Tables::name( 'contact_tags' );
		$list  = implode( ',', $ids );
		// phpcs:ignore WordPress.DB.PreparedSQL.InterpolatedNotPrepared -- table name from $wpdb->prefix; ids are integers.
		$rows   = $wpdb->get_results( "SELECT contact_id, tag FROM {$table} WHERE contact_id IN ({$list}) ORDER BY tag", ARRAY_A );
		$by_contact = array();
		foreach ( $rows as $row ) {
			$by_contact[ (int) $row['contact_id'] ][] = $row['tag'];
		}
		return $by_contact;
	}

	/**
	 * A contact as the screens read it.
	 *
	 * @param array    $row  Contact row.
	 * @param string[] $tags Its tags.
	 * @return array
	 */
	public static function contact_json( $row, $tags ) {
		return array(
			'id'                 => (int) $row['id'],
			'account_id'         => (int) $row['account_id'],
			'name'               => $row['name'],
			'profile_name'       => $row['profile_name'],
			'display_name'       => CloudChat_REST_Inbox::contact_name( $row ),
			'wa_id'              => $row['wa_id'],
			'phone'              => $row['phone'],
			'email'              => $row['email'],
			'locale'             => $row['locale'],
			'tags'               => array_values( $tags ),
			'consent_state'      => $row['consent_state'],
			'consent_source'     => $row['consent_source'],
			'consent_changed_at' => CloudChat_Tables::iso( $row['consent_changed_at'] ),
			'restricted'         => null !== $row['restricted_at'],
			'source'             => $row['source'],
			'created_at'         => CloudChat_Tables::iso( $row['created_at'] ),
		);
	}
}
