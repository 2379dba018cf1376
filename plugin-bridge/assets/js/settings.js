/**
 * CloudChat Settings: the connection to the daemon, what Meta's dashboard
 * needs, the business numbers and their credentials, and live health.
 *
 * Secrets only travel one way: the control secret, access tokens and app
 * secrets are sent and the fields emptied; the server never sends them back.
 */
( function () {
	'use strict';

	const { __, sprintf } = wp.i18n;
	const C = window.CloudChat;
	const h = C.h;
	const formRow = C.formRow;

	const HEALTH_SECONDS = 5;

	C.mount( 'settings', ( app ) => {
		const webhook = createWebhookSection();
		const accounts = createAccountsSection();
		const connection = createConnectionSection( ( settings ) => {
			webhook.setCallbackUrl( settings.webhook_url );
			accounts.render( settings.accounts );
		} );
		const retention = createRetentionSection();
		const health = createHealthSection( ( daemon ) => webhook.setVerifyToken( daemon ) );
		app.appendChild( h(
			'div',
			{ id: 'cloudchat-settings', class: 'cloudchat-settings' },
			connection.element,
			webhook.element,
			accounts.element,
			retention.element,
			health.element
		) );
		connection.load();
		retention.load();
		accounts.onStored( connection.load );
	} );


	/* ---------------------------------------------------------------- */
	/* Connection                                                         */
	/* ---------------------------------------------------------------- */

	function createConnectionSection( onSettings ) {
		const daemonUrl = h( 'input', { type: 'url', id: 'cloudchat-daemon-url', class: 'regular-text', placeholder: 'http://127.0.0.1:8789' } );
		const secret = h( 'input', { type: 'password', id: 'cloudchat-control-secret', class: 'regular-text', autocomplete: 'new-password', spellcheck: 'false' } );
		const secretNote = h( 'span', { class: 'cloudchat-secret-note' } );
		const webhookUrl = h( 'input', { type: 'url', id: 'cloudchat-webhook-url', class: 'regular-text', placeholder: 'https://example.com/cloudchat/webhook' } );
		const deleteData = h( 'input', { type: 'checkbox', id: 'cloudchat-delete-data' } );
		const save = h( 'button', { type: 'submit', id: 'cloudchat-settings-save', class: 'button button-primary' }, __( 'Save', 'cloudchat' ) );
		const test = h( 'button', { type: 'button', id: 'cloudchat-test-connection', class: 'button', onClick: runTest }, __( 'Test the connection', 'cloudchat' ) );
		const slot = C.noticeSlot();
		const testResult = h( 'div', { id: 'cloudchat-test-result', class: 'cloudchat-test-result', 'aria-live': 'polite' } );

		const element = h(
			'section',
			{ class: 'cloudchat-section cloudchat-connection' },
			h( 'h2', null, __( 'Connection to the CloudChat service', 'cloudchat' ) ),
			h(
				'form',
				{ class: 'cloudchat-settings-form', onSubmit: submit },
				h( 'table', { class: 'form-table', role: 'presentation' }, h( 'tbody', null,
					formRow( 'cloudchat-daemon-url', __( 'Service address', 'cloudchat' ), daemonUrl, __( 'Where cloudchatd\'s control API listens on this server (control_listen in its configuration).', 'cloudchat' ) ),
					formRow( 'cloudchat-control-secret', __( 'Control secret', 'cloudchat' ), secret, secretNote ),
					formRow( 'cloudchat-webhook-url', __( 'Public webhook address', 'cloudchat' ), webhookUrl, __( 'The https address at which Meta reaches cloudchatd\'s webhook listener from the internet. Meta calls it with every message and status.', 'cloudchat' ) ),
					formRow(
						'cloudchat-delete-data',
						__( 'On uninstall', 'cloudchat' ),
						h( 'label', { for: 'cloudchat-delete-data' }, deleteData, ' ', __( 'Delete all CloudChat data when the plugin is deleted', 'cloudchat' ) ),
						h( 'strong', { class: 'cloudchat-warning' }, __( 'Warning:', 'cloudchat' ) ),
						' ',
						__( 'conversations, contacts, consent records, campaigns and media files are then removed for good. Leave this off to keep them.', 'cloudchat' )
					)
				) ),
				slot,
				h( 'p', { class: 'submit' }, save, ' ', test ),
				testResult
			)
		);

		// Until the saved values are in, the form takes no input: what someone typed
		// would be overwritten by them.
		const controls = [ daemonUrl, secret, webhookUrl, deleteData, save, test ];
		controls.forEach( ( control ) => {
			control.disabled = true;
		} );
		element.setAttribute( 'aria-busy', 'true' );

		async function load() {
			let settings = null;
			try {
				settings = await C.api( 'settings' );
			} catch ( error ) {
				C.showError( slot, error );
			}
			controls.forEach( ( control ) => {
				control.disabled = false;
			} );
			show( settings );
			element.setAttribute( 'aria-busy', 'false' );
		}

		function show( settings ) {
			if ( ! settings ) {
				return;
			}
			daemonUrl.value = settings.daemon_url || '';
			webhookUrl.value = settings.webhook_url || '';
			deleteData.checked = !! settings.delete_data_on_uninstall;
			secret.value = '';
			secret.disabled = !! settings.control_secret_in_config;
			if ( settings.control_secret_in_config ) {
				secretNote.textContent = __( 'A secret is set, by CLOUDCHAT_CONTROL_SECRET in wp-config.php; change it there.', 'cloudchat' );
			} else if ( settings.control_secret_set ) {
				secretNote.textContent = __( 'A secret is set. Leave this empty to keep it.', 'cloudchat' );
			} else {
				secretNote.textContent = __( 'No secret is set yet. Copy control_secret from cloudchatd\'s configuration on this server, or the secret `cloudchatd control-secret` prints for this site.', 'cloudchat' );
			}
			onSettings( settings );
		}

		async function submit( event ) {
			event.preventDefault();
			// Empty fields are left out: an empty secret means "unchanged".
			const data = { delete_data_on_uninstall: deleteData.checked };
			if ( daemonUrl.value.trim() !== '' ) {
				data.daemon_url = daemonUrl.value.trim();
			}
			if ( webhookUrl.value.trim() !== '' ) {
				data.webhook_url = webhookUrl.value.trim();
			}
			if ( secret.value !== '' && ! secret.disabled ) {
				data.control_secret = secret.value;
			}
			C.setBusy( save, true );
			try {
				show( await C.api( 'settings', { method: 'POST', data } ) );
				C.showNotice( slot, 'success', __( 'Saved.', 'cloudchat' ) );
			} catch ( error ) {
				C.showError( slot, error );
			} finally {
				C.setBusy( save, false );
			}
		}

		async function runTest() {
			C.setBusy( test, true );
			testResult.className = 'cloudchat-test-result';
			testResult.textContent = __( 'Testing…', 'cloudchat' );
			try {
				const answer = await C.api( 'settings/test', { method: 'POST', data: {} } );
				testResult.classList.add( 'is-success' );
				testResult.textContent = sprintf(
					/* translators: 1: cloudchatd version, 2: milliseconds. */
					__( 'Connected to cloudchatd %1$s. The signed round trip took %2$s ms.', 'cloudchat' ),
					answer && answer.version ? answer.version : '',
					answer && answer.round_trip_ms !== undefined ? answer.round_trip_ms : '—'
				);
				C.hideDaemonBanner();
			} catch ( error ) {
				testResult.classList.add( 'is-error' );
				testResult.textContent = C.errorMessage( error );
			} finally {
				C.setBusy( test, false );
			}
		}

		return { element, load };
	}

	/* ---------------------------------------------------------------- */
	/* What Meta's dashboard needs                                        */
	/* ---------------------------------------------------------------- */

	function createWebhookSection() {
		const callback = h( 'input', { type: 'text', id: 'cloudchat-callback-url', class: 'regular-text code', readonly: true } );
		const token = h( 'input', { type: 'text', id: 'cloudchat-verify-token', class: 'regular-text code', readonly: true } );
		const callbackNote = h( 'span' );
		const tokenNote = h( 'span' );
		const element = h(
			'section',
			{ class: 'cloudchat-section cloudchat-webhook' },
			h( 'h2', null, __( 'Webhook for Meta', 'cloudchat' ) ),
			h( 'p', { class: 'description' }, __( 'In the Meta App Dashboard, under WhatsApp → Configuration → Webhook, paste these two values, then subscribe to the messages field.', 'cloudchat' ) ),
			h( 'table', { class: 'form-table', role: 'presentation' }, h( 'tbody', null,
				formRow( 'cloudchat-callback-url', __( 'Callback URL', 'cloudchat' ), [ callback, ' ', copyButton( callback ) ], callbackNote ),
				formRow( 'cloudchat-verify-token', __( 'Verify token', 'cloudchat' ), [ token, ' ', copyButton( token ) ], tokenNote )
			) )
		);

		function setCallbackUrl( url ) {
			callback.value = url || '';
			callbackNote.textContent = url ? '' : __( 'Set the public webhook address above first.', 'cloudchat' );
		}

		/** From each health poll; the input changes only when the token does, so a selection survives. */
		function setVerifyToken( daemon ) {
			const value = daemon && daemon.webhook_verify_token ? daemon.webhook_verify_token : '';
			if ( token.value !== value ) {
				token.value = value;
			}
			if ( value ) {
				tokenNote.textContent = '';
			} else if ( daemon && daemon.reachable ) {
				tokenNote.textContent = __( 'cloudchatd has no webhook_verify_token configured: set one in its configuration, or Meta\'s verification is refused.', 'cloudchat' );
			} else {
				tokenNote.textContent = __( 'Shown when the CloudChat service can be reached.', 'cloudchat' );
			}
		}

		return { element, setCallbackUrl, setVerifyToken };
	}

	function copyButton( input ) {
		const button = h( 'button', { type: 'button', class: 'button cloudchat-copy', 'data-copy-target': input.id, onClick: () => copy( input, button ) }, __( 'Copy', 'cloudchat' ) );
		return button;
	}

	/** The clipboard API where the page is secure; else select the text and ask the browser to copy it. */
	async function copy( input, button ) {
		if ( input.value === '' ) {
			return;
		}
		let copied = false;
		if ( navigator.clipboard && window.isSecureContext ) {
			try {
				await navigator.clipboard.writeText( input.value );
				copied = true;
			} catch ( refused ) {
				copied = false;
			}
		}
		if ( ! copied ) {
			input.focus();
			input.select();
			try {
				copied = document.execCommand( 'copy' );
			} catch ( unsupported ) {
				copied = false;
			}
		}
		button.textContent = copied ? __( 'Copied', 'cloudchat' ) : __( 'Press Ctrl+C to copy', 'cloudchat' );
		setTimeout( () => {
			button.textContent = __( 'Copy', 'cloudchat' );
		}, 2000 );
	}

	/* ---------------------------------------------------------------- */
	/* Numbers and credentials                                            */
	/* ---------------------------------------------------------------- */

	function createAccountsSection() {
		let storedListener = () => {};
		const body = h( 'tbody', null, h( 'tr', { class: 'no-items' }, h( 'td', { colspan: '7' }, __( 'Loading…', 'cloudchat' ) ) ) );
		const table = h(
			'table',
			{ id: 'cloudchat-accounts', class: 'widefat striped' },
			h( 'thead', null, h( 'tr', null,
				h( 'th', { scope: 'col' }, __( 'Label', 'cloudchat' ) ),
				h( 'th', { scope: 'col' }, __( 'Number', 'cloudchat' ) ),
				h( 'th', { scope: 'col' }, __( 'Verified name', 'cloudchat' ) ),
				h( 'th', { scope: 'col' }, __( 'State', 'cloudchat' ) ),
				h( 'th', { scope: 'col' }, __( 'Quality', 'cloudchat' ) ),
				h( 'th', { scope: 'col' }, __( 'Messaging limit', 'cloudchat' ) ),
				h( 'th', { scope: 'col' }, __( 'Last error', 'cloudchat' ) )
			) ),
			body
		);

		const wabaId = h( 'input', { type: 'text', id: 'cloudchat-waba-id', class: 'regular-text', inputmode: 'numeric', pattern: '[0-9]{1,32}', required: true } );
		const phoneNumberId = h( 'input', { type: 'text', id: 'cloudchat-phone-number-id', class: 'regular-text', inputmode: 'numeric', pattern: '[0-9]{1,32}', required: true } );
		const accessToken = h( 'input', { type: 'password', id: 'cloudchat-access-token', class: 'regular-text', autocomplete: 'new-password', spellcheck: 'false', required: true } );
		const appSecret = h( 'input', { type: 'password', id: 'cloudchat-app-secret', class: 'regular-text', autocomplete: 'new-password', spellcheck: 'false' } );
		const label = h( 'input', { type: 'text', id: 'cloudchat-label', class: 'regular-text', maxlength: '255' } );
		const sendRate = h( 'input', { type: 'number', id: 'cloudchat-send-rate', class: 'small-text', min: '1', max: '1000', step: '1' } );
		const save = h( 'button', { type: 'submit', id: 'cloudchat-credentials-save', class: 'button button-primary' }, __( 'Connect the number', 'cloudchat' ) );
		const slot = C.noticeSlot();

		const form = h(
			'form',
			{ id: 'cloudchat-credentials', onSubmit: submit },
			h( 'h3', null, __( 'Connect a number, or replace its credentials', 'cloudchat' ) ),
			h( 'p', { class: 'description' }, __( 'The CloudChat service checks these with Meta and stores the token and app secret encrypted. WordPress passes them on and keeps none of them.', 'cloudchat' ) ),
			h( 'table', { class: 'form-table', role: 'presentation' }, h( 'tbody', null,
				formRow( 'cloudchat-waba-id', __( 'WhatsApp Business Account ID', 'cloudchat' ), wabaId ),
				formRow( 'cloudchat-phone-number-id', __( 'Phone number ID', 'cloudchat' ), phoneNumberId ),
				formRow( 'cloudchat-access-token', __( 'Access token', 'cloudchat' ), accessToken, __( 'A permanent system-user token with whatsapp_business_messaging and whatsapp_business_management.', 'cloudchat' ) ),
				formRow( 'cloudchat-app-secret', __( 'App secret', 'cloudchat' ), appSecret, __( 'Optional: the Meta app\'s secret, used to check that webhooks come from Meta.', 'cloudchat' ) ),
				formRow( 'cloudchat-label', __( 'Label', 'cloudchat' ), label, __( 'Optional: your name for this number in wp-admin.', 'cloudchat' ) ),
				formRow( 'cloudchat-send-rate', __( 'Sending rate', 'cloudchat' ), [ sendRate, ' ', __( 'messages a second', 'cloudchat' ) ], __( 'Optional: 80 unless Meta raised this number\'s throughput.', 'cloudchat' ) )
			) ),
			slot,
			h( 'p', { class: 'submit' }, save )
		);

		const element = h( 'section', { class: 'cloudchat-section cloudchat-numbers' }, h( 'h2', null, __( 'Business numbers', 'cloudchat' ) ), table, form );

		function render( accounts ) {
			const list = Array.isArray( accounts ) ? accounts : [];
			if ( list.length === 0 ) {
				C.replaceChildren( body, h( 'tr', { class: 'no-items' }, h( 'td', { colspan: '7' }, __( 'No number is connected yet. Add one with the form below.', 'cloudchat' ) ) ) );
				return;
			}
			C.replaceChildren( body, list.map( accountRow ) );
		}

		async function submit( event ) {
			event.preventDefault();
			const data = {
				waba_id: wabaId.value.trim(),
				phone_number_id: phoneNumberId.value.trim(),
				access_token: accessToken.value.trim(),
			};
			const problems = [];
			if ( ! /^\d{1,32}$/.test( data.waba_id ) ) {
				problems.push( __( 'The WhatsApp Business Account ID is a number.', 'cloudchat' ) );
			}
			if ( ! /^\d{1,32}$/.test( data.phone_number_id ) ) {
				problems.push( __( 'The phone number ID is a number (not the phone number itself).', 'cloudchat' ) );
			}
			if ( data.access_token === '' ) {
				problems.push( __( 'Paste the access token.', 'cloudchat' ) );
			}
			if ( appSecret.value.trim() !== '' ) {
				data.app_secret = appSecret.value.trim();
			}
			if ( label.value.trim() !== '' ) {
				data.label = label.value.trim();
			}
			if ( sendRate.value.trim() !== '' ) {
				const rate = Number( sendRate.value );
				if ( ! Number.isInteger( rate ) || rate < 1 || rate > 1000 ) {
					problems.push( __( 'The sending rate is a whole number from 1 to 1000.', 'cloudchat' ) );
				}
				data.send_rate_mps = rate;
			}
			if ( problems.length ) {
				C.showNotice( slot, 'error', problems.join( ' ' ) );
				return;
			}
			C.setBusy( save, true );
			try {
				const answer = await C.api( 'settings/credentials', { method: 'POST', data } );
				accessToken.value = '';
				appSecret.value = '';
				C.showNotice(
					slot,
					'success',
					answer && answer.verified_name
						/* translators: %s: the number's verified name at Meta. */
						? sprintf( __( 'Connected: %s.', 'cloudchat' ), answer.verified_name )
						: __( 'Connected.', 'cloudchat' ),
					' ',
					__( 'The CloudChat service stored the access token and app secret encrypted; WordPress did not keep them.', 'cloudchat' )
				);
				storedListener();
			} catch ( error ) {
				C.showError( slot, error );
			} finally {
				C.setBusy( save, false );
			}
		}

		return {
			element,
			render,
			onStored( listener ) {
				storedListener = listener;
			},
		};
	}

	function accountRow( account ) {
		const error = account.last_error;
		return h(
			'tr',
			{ class: 'cloudchat-account', 'data-account-id': String( account.id ) },
			h( 'td', null, account.label || '—', account.phone_number_id ? h( 'div', { class: 'cloudchat-muted' }, sprintf( /* translators: %s: Meta's phone number id. */ __( 'ID %s', 'cloudchat' ), account.phone_number_id ) ) : null ),
			h( 'td', null, account.display_phone_number ? C.formatPhone( account.display_phone_number ) : '—' ),
			h( 'td', null, account.verified_name || '—' ),
			h(
				'td',
				null,
				h( 'span', { class: [ 'cloudchat-pill', account.state === 'active' ? 'is-good' : 'is-bad' ] }, account.state || '—' ),
				account.state_reason ? h( 'div', { class: 'cloudchat-muted' }, account.state_reason ) : null
			),
			h( 'td', null, qualityPill( account.quality_rating ) ),
			h( 'td', null, tierLabel( account.messaging_limit_tier ) ),
			h( 'td', { class: 'cloudchat-last-error' }, error ? errorText( error ) : '—' )
		);
	}

	function qualityPill( rating ) {
		if ( ! rating ) {
			return '—';
		}
		const tones = { GREEN: 'is-good', YELLOW: 'is-warning', RED: 'is-bad' };
		return h( 'span', { class: [ 'cloudchat-pill', tones[ rating ] || 'is-neutral' ] }, rating );
	}

	/** TIER_250 → "250 people a day"; TIER_UNLIMITED → "Unlimited". */
	function tierLabel( tier ) {
		if ( ! tier ) {
			return '—';
		}
		const limit = /^TIER_(\d+)(K?)$/i.exec( tier );
		if ( limit ) {
			const people = Number( limit[ 1 ] ) * ( limit[ 2 ] ? 1000 : 1 );
			/* translators: %s: number of people. */
			return sprintf( __( '%s people in 24 hours', 'cloudchat' ), people.toLocaleString() );
		}
		return /UNLIMITED/i.test( tier ) ? __( 'Unlimited', 'cloudchat' ) : tier;
	}

	/** "22 Nov 2026, 11:15 — 131031: Business account locked". */
	function errorText( error ) {
		const parts = [];
		if ( error.at ) {
			parts.push( C.formatTime( error.at ) );
		}
		const what = [ error.code !== null && error.code !== undefined ? String( error.code ) : '', error.details || '' ].filter( Boolean ).join( ': ' );
		if ( what ) {
			parts.push( what );
		}
		return parts.join( ' — ' ) || '—';
	}

	/* ---------------------------------------------------------------- */
	/* Retention                                                          */
	/* ---------------------------------------------------------------- */

	/**
	 * How long each class of data is kept. An empty field means the default
	 * (cloudchatd's configuration may set another one for the whole server);
	 * 0 keeps forever. cloudchatd deletes what is older once an hour.
	 */
	function createRetentionSection() {
		const body = h( 'tbody', null, h( 'tr', null, h( 'td', null, __( 'Loading…', 'cloudchat' ) ) ) );
		const save = h( 'button', { type: 'submit', id: 'cloudchat-retention-save', class: 'button button-primary', disabled: true }, __( 'Save retention', 'cloudchat' ) );
		const slot = C.noticeSlot();
		let classes = [];
		let maximum = 3650;
		const inputs = {};

		const element = h(
			'section',
			{ id: 'cloudchat-retention', class: 'cloudchat-section cloudchat-retention' },
			h( 'h2', null, __( 'Retention', 'cloudchat' ) ),
			h( 'p', { class: 'description' }, __( 'How many days CloudChat keeps each kind of data on this server. Older data is deleted once an hour. Leave a field empty for the default; enter 0 to keep that data forever. Contacts and their consent history stay until they are erased.', 'cloudchat' ) ),
			h(
				'form',
				{ id: 'cloudchat-retention-form', novalidate: true, onSubmit: submit },
				h( 'table', { class: 'form-table', role: 'presentation' }, body ),
				slot,
				h( 'p', { class: 'submit' }, save )
			)
		);

		async function load() {
			try {
				show( await C.api( 'settings/retention' ) );
				save.disabled = false;
			} catch ( error ) {
				C.showError( slot, error );
			}
		}

		function show( answer ) {
			classes = answer && Array.isArray( answer.retention ) ? answer.retention : [];
			maximum = answer && answer.maximum_days ? answer.maximum_days : maximum;
			C.replaceChildren( body, classes.map( ( item ) => {
				const id = 'cloudchat-retention-' + item.key;
				const input = h( 'input', { type: 'number', id, name: item.key, class: 'small-text', min: '0', max: String( maximum ), step: '1', placeholder: String( item.default ) } );
				input.value = item.days === null || item.days === undefined ? '' : String( item.days );
				inputs[ item.key ] = input;
				return formRow(
					id,
					item.label,
					[ input, ' ', __( 'days', 'cloudchat' ) ],
					/* translators: %s: number of days. */
					sprintf( __( 'Default: %s days.', 'cloudchat' ), Number( item.default ).toLocaleString() )
				);
			} ) );
		}

		async function submit( event ) {
			event.preventDefault();
			const data = {};
			const problems = [];
			classes.forEach( ( item ) => {
				const text = inputs[ item.key ].value.trim();
				if ( text === '' ) {
					return;
				}
				const days = Number( text );
				if ( ! /^\d+$/.test( text ) || days > maximum ) {
					problems.push( sprintf(
						/* translators: 1: what the setting keeps, 2: the largest number of days. */
						__( '%1$s: enter 0 to keep forever, or a whole number of days from 1 to %2$s.', 'cloudchat' ),
						item.label,
						maximum
					) );
					return;
				}
				data[ item.key ] = days;
			} );
			if ( problems.length ) {
				C.showNotice( slot, 'error', problems.join( ' ' ) );
				return;
			}
			C.setBusy( save, true );
			try {
				show( await C.api( 'settings/retention', { method: 'POST', data } ) );
				C.showNotice( slot, 'success', __( 'Retention saved. The CloudChat service applies it at its next hourly run.', 'cloudchat' ) );
			} catch ( error ) {
				const params = error && error.data && error.data.params ? Object.values( error.data.params ) : [];
				C.showNotice( slot, 'error', params.length ? params.join( ' ' ) : C.errorMessage( error ) );
			} finally {
				C.setBusy( save, false );
			}
		}

		return { element, load };
	}

	/* ---------------------------------------------------------------- */
	/* Health                                                             */
	/* ---------------------------------------------------------------- */

	function createHealthSection( onDaemon ) {
		const slot = C.noticeSlot();
		const body = h( 'tbody', null, h( 'tr', null, h( 'td', null, __( 'Loading…', 'cloudchat' ) ) ) );
		const element = h(
			'section',
			{ id: 'cloudchat-health', class: 'cloudchat-section cloudchat-health' },
			h( 'h2', null, __( 'Health', 'cloudchat' ) ),
			slot,
			h( 'table', { class: 'widefat striped cloudchat-health-table' }, body )
		);
		const ingest = createRateMeter();
		C.poller( load, HEALTH_SECONDS ).start( true );

		async function load() {
			let health;
			try {
				health = await C.api( 'health' );
			} catch ( error ) {
				C.showError( slot, error );
				return;
			}
			C.clearNotice( slot );
			const daemon = ( health && health.daemon ) || {};
			if ( daemon.reachable ) {
				C.hideDaemonBanner();
			} else {
				C.showDaemonBanner();
			}
			onDaemon( daemon );
			const rate = daemon.reachable ? ingest.next( daemon.webhooks_accepted ) : ingest.reset();
			C.replaceChildren( body, healthRows( health || {}, rate ) );
		}

		return { element };
	}

	/**
	 * Webhooks a second from the change of a counter between two polls;
	 * null until there are two, or when the counter went back (a restart).
	 */
	function createRateMeter() {
		let previous = null;
		return {
			next( total ) {
				const now = Date.now();
				const value = Number( total );
				if ( total === null || total === undefined || ! isFinite( value ) ) {
					previous = null;
					return null;
				}
				const rate = previous && value >= previous.value && now > previous.at ? ( value - previous.value ) / ( ( now - previous.at ) / 1000 ) : null;
				previous = { value, at: now };
				return rate;
			},
			reset() {
				previous = null;
				return null;
			},
		};
	}

	function healthRows( health, rate ) {
		const daemon = health.daemon || {};
		const queues = health.queues || {};
		const row = ( key, label, ...value ) => h( 'tr', { 'data-health': key }, h( 'th', { scope: 'row' }, label ), h( 'td', null, ...value ) );
		const number = ( value ) => ( value === null || value === undefined || ! isFinite( Number( value ) ) ? '—' : Number( value ).toLocaleString() );
		return [
			row(
				'reachable',
				__( 'CloudChat service', 'cloudchat' ),
				daemon.reachable
					? h( 'span', { class: 'cloudchat-pill is-good' }, __( 'Reachable', 'cloudchat' ) )
					: h( 'span', { class: 'cloudchat-pill is-bad' }, __( 'Not reachable', 'cloudchat' ) ),
				! daemon.reachable && daemon.error ? h( 'div', { class: 'cloudchat-muted' }, daemon.error ) : null
			),
			row( 'version', __( 'Version', 'cloudchat' ), daemon.version || '—' ),
			row(
				'ingest-rate',
				__( 'Webhooks received', 'cloudchat' ),
				/* translators: %s: webhooks per second. */
				rate === null ? '—' : sprintf( __( '%s a second', 'cloudchat' ), rate.toLocaleString( undefined, { maximumFractionDigits: 2 } ) ),
				/* translators: %s: count of webhooks since the service started. */
				daemon.webhooks_accepted !== undefined && daemon.webhooks_accepted !== null ? h( 'span', { class: 'cloudchat-muted' }, ' ', sprintf( __( '(%s since the service started)', 'cloudchat' ), number( daemon.webhooks_accepted ) ) ) : null
			),
			row( 'sending', __( 'Sending', 'cloudchat' ), sendingText( daemon.sending, number ) ),
			row( 'outbox-queued', __( 'Messages waiting to be sent', 'cloudchat' ), number( queues.outbox_queued ) ),
			row( 'outbox-failed', __( 'Messages failed in the last 24 hours', 'cloudchat' ), number( queues.outbox_failed_24h ) ),
			row( 'media-pending', __( 'Media files waiting to download', 'cloudchat' ), number( queues.media_pending ) ),
			row( 'campaigns-running', __( 'Campaigns running', 'cloudchat' ), number( queues.campaigns_running ) ),
			row( 'last-error', __( 'Last error', 'cloudchat' ), health.last_error ? errorText( health.last_error ) : __( 'None', 'cloudchat' ) ),
		];
	}

	/** The sender's counters since the service started, and each number's current pace. */
	function sendingText( sending, number ) {
		if ( ! sending || typeof sending !== 'object' ) {
			return '—';
		}
		const counters = sprintf(
			/* translators: 1: accepted by Meta, 2: failed, 3: retried, 4: in doubt, 5: slowed by Meta's throughput limit. */
			__( '%1$s accepted, %2$s failed, %3$s retried, %4$s in doubt, %5$s slowed by Meta', 'cloudchat' ),
			number( sending.accepted ),
			number( sending.failed ),
			number( sending.retried ),
			number( sending.in_doubt ),
			number( sending.throughput_limited )
		);
		const paces = sending.pace_per_number && typeof sending.pace_per_number === 'object' ? sending.pace_per_number : {};
		const paceLines = Object.keys( paces ).map( ( id ) => sprintf(
			/* translators: 1: Meta's phone number id, 2: messages a second. */
			__( 'Number %1$s: %2$s a second', 'cloudchat' ),
			id,
			Number( paces[ id ] ).toLocaleString( undefined, { maximumFractionDigits: 1 } )
		) );
		return [ counters, paceLines.length ? h( 'div', { class: 'cloudchat-muted' }, paceLines.join( ' · ' ) ) : null ];
	}
}() );
