/**
 * CloudChat Campaigns: the list with live progress, state actions and a
 * funnel per campaign, and the form that creates a draft.
 *
 * The variables the form builds follow docs/campaigns.md ("Variables"):
 * positional parameters are lists in order, named ones objects keyed by name,
 * a header image/video/document {"image": {"link": …}}, buttons keyed by index.
 */
( function () {
	'use strict';

	const { __, _n, sprintf } = wp.i18n;
	const C = window.CloudChat;
	const h = C.h;
	const formRow = C.formRow;

	// States in which the numbers move by themselves, so the list is polled.
	const ACTIVE_STATES = [ 'running', 'scheduled', 'paused' ];
	const ACTIONS_BY_STATE = {
		draft: [ 'start', 'schedule', 'cancel' ],
		scheduled: [ 'start', 'cancel' ],
		running: [ 'pause', 'cancel' ],
		paused: [ 'resume', 'cancel' ],
		halted: [ 'resume', 'cancel' ],
	};
	const MEDIA_FORMATS = [ 'IMAGE', 'VIDEO', 'DOCUMENT' ];
	const CONTACT_FIELDS = [ 'name', 'first_name', 'profile_name', 'email', 'phone', 'wa_id' ];
	const CUSTOM_FIELD = 'custom_fields.';

	C.mount( 'campaigns', ( app ) => {
		const list = createCampaignList();
		const form = createCampaignForm( list.add );
		app.appendChild( h( 'div', { id: 'cloudchat-campaigns', class: 'cloudchat-campaigns' }, list.element, form.element ) );
	} );

	/* ---------------------------------------------------------------- */
	/* Labels                                                             */
	/* ---------------------------------------------------------------- */

	function stateLabel( state ) {
		const labels = {
			draft: __( 'Draft', 'cloudchat' ),
			scheduled: __( 'Scheduled', 'cloudchat' ),
			running: __( 'Running', 'cloudchat' ),
			paused: __( 'Paused', 'cloudchat' ),
			halted: __( 'Halted', 'cloudchat' ),
			completed: __( 'Completed', 'cloudchat' ),
			cancelled: __( 'Cancelled', 'cloudchat' ),
		};
		return labels[ state ] || state || '—';
	}

	function actionLabel( action ) {
		const labels = {
			start: __( 'Start now', 'cloudchat' ),
			schedule: __( 'Schedule…', 'cloudchat' ),
			pause: __( 'Pause', 'cloudchat' ),
			resume: __( 'Resume', 'cloudchat' ),
			cancel: __( 'Cancel campaign', 'cloudchat' ),
		};
		return labels[ action ] || action;
	}

	function reasonLabel( reason ) {
		const labels = {
			start_failed: __( 'It could not start', 'cloudchat' ),
			messaging_limit_reached: __( 'The number\'s messaging limit for the last 24 hours is used up', 'cloudchat' ),
			template_paused: __( 'Meta paused the template', 'cloudchat' ),
			template_disabled: __( 'Meta disabled the template', 'cloudchat' ),
			spam_rate_limit: __( 'Meta\'s spam-rate limit was reached', 'cloudchat' ),
			payment_required: __( 'The WhatsApp Business Account has a payment problem', 'cloudchat' ),
			account_locked: __( 'The WhatsApp account is locked', 'cloudchat' ),
			credentials_invalid: __( 'The access token was refused', 'cloudchat' ),
			paused_by_user: __( 'Paused by a person', 'cloudchat' ),
		};
		return labels[ reason ] || reason;
	}

	function skipLabel( reason ) {
		const labels = {
			opted_out: __( 'Opted out', 'cloudchat' ),
			restricted: __( 'Restricted from automated messages', 'cloudchat' ),
			invalid_number: __( 'No usable number', 'cloudchat' ),
			duplicate: __( 'Same number as another recipient', 'cloudchat' ),
			missing_variables: __( 'A template value was empty', 'cloudchat' ),
			unknown: __( 'Other', 'cloudchat' ),
		};
		return labels[ reason ] || reason;
	}

	/** Meta's error codes that campaigns meet most, in words. */
	function failureLabel( code ) {
		const labels = {
			131026: __( 'Message undeliverable (not on WhatsApp, or an old app)', 'cloudchat' ),
			131049: __( 'Not delivered by Meta to keep engagement healthy', 'cloudchat' ),
			131050: __( 'The customer stopped marketing messages', 'cloudchat' ),
			130472: __( 'The customer\'s number is part of a Meta experiment', 'cloudchat' ),
			131047: __( 'More than 24 hours since the customer wrote', 'cloudchat' ),
			131056: __( 'Too many messages to this number', 'cloudchat' ),
			131000: __( 'Something went wrong at Meta', 'cloudchat' ),
			132000: __( 'Wrong number of template parameters', 'cloudchat' ),
			132001: __( 'The template does not exist in this language', 'cloudchat' ),
			132012: __( 'A template parameter has the wrong format', 'cloudchat' ),
			131008: __( 'A required parameter is missing', 'cloudchat' ),
			131009: __( 'A parameter value is not valid', 'cloudchat' ),
			131053: __( 'The media could not be uploaded', 'cloudchat' ),
			retries_exhausted: __( 'Gave up after several tries', 'cloudchat' ),
			unknown: __( 'Unknown', 'cloudchat' ),
		};
		const words = labels[ code ];
		if ( /^\d+$/.test( String( code ) ) ) {
			return words ? code + ' — ' + words : sprintf( /* translators: %s: Meta error code. */ __( 'Error %s', 'cloudchat' ), code );
		}
		return words || String( code );
	}

	function audienceLabel( audience ) {
		if ( ! audience || ! audience.type ) {
			return '—';
		}
		switch ( audience.type ) {
			case 'tags': {
				const tags = Array.isArray( audience.tags ) ? audience.tags.join( ', ' ) : '';
				return audience.match === 'all'
					/* translators: %s: list of tags. */
					? sprintf( __( 'Contacts with all of these tags: %s', 'cloudchat' ), tags )
					/* translators: %s: list of tags. */
					: sprintf( __( 'Contacts with any of these tags: %s', 'cloudchat' ), tags );
			}
			case 'all_opted_in':
				return __( 'Every opted-in contact', 'cloudchat' );
			case 'csv':
				return __( 'People in an imported CSV file', 'cloudchat' );
			case 'list':
				return __( 'A list of numbers', 'cloudchat' );
			default:
				return audience.type;
		}
	}

	const percentFormat = ( function () {
		try {
			return new Intl.NumberFormat( document.documentElement.lang || undefined, { style: 'percent', maximumFractionDigits: 1 } );
		} catch ( badLocale ) {
			return new Intl.NumberFormat( 'en-US', { style: 'percent', maximumFractionDigits: 1 } );
		}
	}() );

	function share( count, total ) {
		return total > 0 ? count / total : 0;
	}

	function count( progress, key ) {
		const value = progress ? Number( progress[ key ] ) : 0;
		return isFinite( value ) ? value : 0;
	}

	/* ---------------------------------------------------------------- */
	/* The list                                                           */
	/* ---------------------------------------------------------------- */

	function createCampaignList() {
		let campaigns = [];
		const cards = new Map(); // id → card
		const opened = new Set(); // ids whose funnel was opened by a click
		const slot = C.noticeSlot();
		const container = h( 'div', { class: 'cloudchat-campaign-list' }, h( 'p', { class: 'cloudchat-muted' }, __( 'Loading…', 'cloudchat' ) ) );
		const element = h( 'section', { class: 'cloudchat-section' }, h( 'h2', null, __( 'Campaigns', 'cloudchat' ) ), slot, container );
		const poll = C.poller( () => ( campaigns.some( ( item ) => ACTIVE_STATES.includes( item.state ) ) ? load() : null ), C.config.pollSeconds );
		load().then( () => poll.start() );

		async function load() {
			let answer;
			try {
				answer = await C.api( 'campaigns' );
			} catch ( error ) {
				C.showError( slot, error );
				return;
			}
			C.clearNotice( slot );
			campaigns = answer && Array.isArray( answer.campaigns ) ? answer.campaigns : [];
			render();
		}

		function render() {
			if ( campaigns.length === 0 ) {
				cards.clear();
				C.replaceChildren( container, h( 'p', { class: 'cloudchat-muted cloudchat-campaigns-empty' }, __( 'No campaigns yet. Create one below.', 'cloudchat' ) ) );
				return;
			}
			const newest = campaigns.reduce( ( top, item ) => ( Number( item.id ) > Number( top.id ) ? item : top ), campaigns[ 0 ] );
			const seen = new Set();
			const nodes = campaigns.map( ( campaign ) => {
				const id = String( campaign.id );
				seen.add( id );
				if ( ! cards.has( id ) ) {
					cards.set( id, createCard( { onUpdated: update, onToggle: toggle } ) );
				}
				const card = cards.get( id );
				card.update( campaign, String( newest.id ) === id || opened.has( id ), String( newest.id ) === id );
				return card.element;
			} );
			cards.forEach( ( card, id ) => {
				if ( ! seen.has( id ) ) {
					cards.delete( id );
				}
			} );
			// Re-append only when the order changed, so focus and open editors stay put.
			const current = Array.from( container.children );
			if ( current.length !== nodes.length || nodes.some( ( node, index ) => current[ index ] !== node ) ) {
				C.replaceChildren( container, nodes );
			}
		}

		function toggle( id ) {
			if ( opened.has( id ) ) {
				opened.delete( id );
			} else {
				opened.add( id );
			}
			render();
		}

		/** A campaign as an action or the form answered it. */
		function update( campaign ) {
			if ( ! campaign ) {
				return;
			}
			const index = campaigns.findIndex( ( item ) => String( item.id ) === String( campaign.id ) );
			if ( index >= 0 ) {
				campaigns[ index ] = campaign;
			} else {
				campaigns.unshift( campaign );
			}
			render();
			poll.now();
		}

		return { element, add: update };
	}

	/* ---------------------------------------------------------------- */
	/* One campaign                                                       */
	/* ---------------------------------------------------------------- */

	function createCard( handlers ) {
		let campaign = null;
		let signature = null;
		let actionsState = null;
		let funnelShown = null;

		const summary = h( 'div', {
			class: 'cloudchat-campaign-summary',
			role: 'button',
			tabindex: '0',
			onClick: ( event ) => {
				if ( ! event.target.closest( 'a, button, input' ) ) {
					handlers.onToggle( String( campaign.id ) );
				}
			},
			onKeydown: ( event ) => {
				if ( ( event.key === 'Enter' || event.key === ' ' ) && event.target === summary ) {
					event.preventDefault();
					handlers.onToggle( String( campaign.id ) );
				}
			},
		} );
		const actions = h( 'div', { class: 'cloudchat-campaign-actions' } );
		const slot = C.noticeSlot();
		const funnelBox = h( 'div', { class: 'cloudchat-funnel-box' } );
		const element = h( 'div', { class: 'cloudchat-campaign' }, summary, actions, slot, funnelBox );

		/** Shows the campaign; parts are rebuilt only when what they show changed. */
		function update( next, showFunnel, isNewest ) {
			const nextSignature = JSON.stringify( next );
			const changed = nextSignature !== signature;
			campaign = next;
			signature = nextSignature;
			element.setAttribute( 'data-campaign-id', String( next.id ) );
			element.setAttribute( 'data-state', next.state || '' );
			element.classList.toggle( 'is-newest', !! isNewest );
			summary.setAttribute( 'aria-expanded', showFunnel ? 'true' : 'false' );
			if ( changed ) {
				C.replaceChildren( summary, summaryContent( next ) );
			}
			if ( next.state !== actionsState ) {
				actionsState = next.state;
				renderActions();
			}
			if ( changed || showFunnel !== funnelShown ) {
				funnelShown = showFunnel;
				C.replaceChildren( funnelBox, showFunnel ? funnel( next.progress ) : null );
			}
		}

		function renderActions() {
			const allowed = ACTIONS_BY_STATE[ campaign.state ] || [];
			C.replaceChildren(
				actions,
				allowed.map( ( action ) => h(
					'button',
					{
						type: 'button',
						class: [ 'button', action === 'start' || action === 'resume' ? 'button-primary' : null, action === 'cancel' ? 'cloudchat-cancel' : null ],
						'data-action': action,
						onClick: ( event ) => ( action === 'schedule' ? openScheduler() : act( action, null, event.currentTarget ) ),
					},
					actionLabel( action )
				) )
			);
		}

		async function act( action, data, button ) {
			C.setBusy( button, true );
			try {
				const answer = await C.api( 'campaigns/' + encodeURIComponent( campaign.id ) + '/' + action, { method: 'POST', data: data || {} } );
				C.clearNotice( slot );
				actionsState = null; // rebuild the buttons even if the state is the same
				handlers.onUpdated( answer && answer.campaign );
			} catch ( error ) {
				C.showError( slot, error );
			} finally {
				C.setBusy( button, false );
			}
		}

		/** A date-time in the site's zone, sent as "YYYY-MM-DDTHH:MM". */
		function openScheduler() {
			const now = new Date();
			const inAnHour = new Date( now.getTime() + 60 * 60 * 1000 );
			inAnHour.setUTCMinutes( 0 );
			const input = h( 'input', {
				type: 'datetime-local',
				class: 'cloudchat-schedule-at',
				id: 'cloudchat-schedule-at-' + campaign.id,
				min: C.toSiteInputValue( now ),
				value: C.toSiteInputValue( inAnHour ),
				step: '60',
				required: true,
			} );
			const confirm = h( 'button', { type: 'submit', class: 'button button-primary cloudchat-schedule-confirm' }, __( 'Schedule', 'cloudchat' ) );
			const back = h( 'button', {
				type: 'button',
				class: 'button cloudchat-schedule-back',
				onClick: () => {
					C.clearNotice( slot );
					renderActions();
				},
			}, __( 'Back', 'cloudchat' ) );
			C.replaceChildren(
				actions,
				h(
					'form',
					{
						class: 'cloudchat-schedule',
						onSubmit: ( event ) => {
							event.preventDefault();
							const at = input.value.slice( 0, 16 );
							if ( ! /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test( at ) ) {
								C.showNotice( slot, 'error', __( 'Choose the day and time to start.', 'cloudchat' ) );
								return;
							}
							act( 'schedule', { at }, confirm );
						},
					},
					h( 'label', { for: input.id },
						/* translators: %s: the site's time zone, such as Europe/Madrid. */
						sprintf( __( 'Start at (%s)', 'cloudchat' ), C.siteZoneLabel() )
					),
					' ',
					input,
					' ',
					confirm,
					' ',
					back
				)
			);
			input.focus();
		}

		return { element, update };
	}

	function summaryContent( campaign ) {
		const template = campaign.template || {};
		const progress = campaign.progress || {};
		const details = [
			/* translators: 1: template name, 2: language code. */
			sprintf( __( 'Template: %1$s (%2$s)', 'cloudchat' ), template.name || '—', template.language || '—' ),
			/* translators: %s: who receives the campaign. */
			sprintf( __( 'Audience: %s', 'cloudchat' ), audienceLabel( campaign.audience ) ),
		];
		if ( campaign.rate_limit_mps ) {
			/* translators: %s: messages per second. */
			details.push( sprintf( __( 'At most %s messages a second', 'cloudchat' ), campaign.rate_limit_mps ) );
		}
		return [
			h(
				'div',
				{ class: 'cloudchat-campaign-head' },
				h( 'h3', { class: 'cloudchat-campaign-name' }, campaign.name || '—' ),
				h( 'span', { class: [ 'cloudchat-pill', 'cloudchat-state-' + ( campaign.state || 'unknown' ) ] }, stateLabel( campaign.state ) )
			),
			h( 'p', { class: 'cloudchat-campaign-details' }, details.join( ' · ' ) ),
			reasonLine( campaign ),
			timesLine( campaign ),
			progressBar( progress ),
			progressText( progress ),
		];
	}

	/** Why a campaign is paused, halted, or back in draft after a failed start. */
	function reasonLine( campaign ) {
		const explains = [ 'paused', 'halted' ].includes( campaign.state ) || ( campaign.state === 'draft' && campaign.state_reason );
		if ( ! explains || ( ! campaign.state_reason && ! campaign.error_details ) ) {
			return null;
		}
		const parts = [];
		if ( campaign.state_reason ) {
			parts.push( reasonLabel( campaign.state_reason ) );
		}
		if ( campaign.error_code ) {
			/* translators: %s: Meta error code. */
			parts.push( sprintf( __( 'error %s', 'cloudchat' ), campaign.error_code ) );
		}
		let text = parts.join( ', ' );
		if ( campaign.error_details ) {
			text += ( text ? ': ' : '' ) + campaign.error_details;
		}
		if ( campaign.state === 'paused' && campaign.resume_at ) {
			/* translators: %s: date and time. */
			text += ' ' + sprintf( __( '(resumes by itself at %s)', 'cloudchat' ), C.formatTime( campaign.resume_at ) );
		}
		return h( 'p', { class: [ 'cloudchat-campaign-reason', campaign.state === 'halted' || campaign.state === 'draft' ? 'is-error' : null ] }, text );
	}

	function timesLine( campaign ) {
		const times = [
			[ campaign.created_at, __( 'Created', 'cloudchat' ) ],
			[ campaign.state === 'scheduled' ? campaign.scheduled_at : null, __( 'Starts', 'cloudchat' ) ],
			[ campaign.started_at, __( 'Started', 'cloudchat' ) ],
			[ campaign.completed_at, __( 'Completed', 'cloudchat' ) ],
			[ campaign.cancelled_at, __( 'Cancelled', 'cloudchat' ) ],
		].filter( ( pair ) => pair[ 0 ] );
		return h( 'ul', { class: 'cloudchat-campaign-times' }, times.map( ( [ iso, label ] ) => h(
			'li',
			null,
			label,
			' ',
			h( 'time', { datetime: iso }, C.formatTime( iso ) )
		) ) );
	}

	/** Sent, failed and skipped as parts of the whole audience. */
	function progressBar( progress ) {
		const total = count( progress, 'total' );
		const done = count( progress, 'sent' ) + count( progress, 'failed' ) + count( progress, 'skipped' );
		const part = ( key ) => h( 'span', { class: 'cloudchat-progress-part is-' + key, style: { width: ( share( count( progress, key ), total ) * 100 ) + '%' } } );
		return h(
			'div',
			{
				class: 'cloudchat-progress-bar',
				role: 'progressbar',
				'aria-valuemin': '0',
				'aria-valuemax': String( total ),
				'aria-valuenow': String( Math.min( done, total ) ),
				'aria-label': __( 'Campaign progress', 'cloudchat' ),
			},
			part( 'sent' ),
			part( 'failed' ),
			part( 'skipped' )
		);
	}

	function progressText( progress ) {
		const keys = [ 'total', 'sent', 'delivered', 'read', 'replied', 'failed', 'skipped' ];
		const attributes = { class: 'cloudchat-campaign-progress' };
		keys.forEach( ( key ) => {
			attributes[ 'data-' + key ] = String( count( progress, key ) );
		} );
		const total = count( progress, 'total' );
		const text = total === 0
			? __( 'No recipients yet: a tags or opted-in audience is gathered when the campaign starts.', 'cloudchat' )
			: sprintf(
				/* translators: 1: recipients, 2: sent, 3: delivered, 4: read, 5: replied, 6: failed, 7: skipped, 8: waiting. */
				__( '%1$d recipients: %2$d sent, %3$d delivered, %4$d read, %5$d replied, %6$d failed, %7$d skipped, %8$d waiting.', 'cloudchat' ),
				total,
				count( progress, 'sent' ),
				count( progress, 'delivered' ),
				count( progress, 'read' ),
				count( progress, 'replied' ),
				count( progress, 'failed' ),
				count( progress, 'skipped' ),
				count( progress, 'pending' ) + count( progress, 'sending' )
			);
		return h( 'p', attributes, text );
	}

	/** Sent → delivered → read → replied as bars relative to all recipients, then failures and skips by reason. */
	function funnel( progress ) {
		const total = count( progress, 'total' );
		const steps = [
			[ 'sent', __( 'Sent', 'cloudchat' ) ],
			[ 'delivered', __( 'Delivered', 'cloudchat' ) ],
			[ 'read', __( 'Read', 'cloudchat' ) ],
			[ 'replied', __( 'Replied', 'cloudchat' ) ],
		];
		return h(
			'div',
			{ class: 'cloudchat-funnel' },
			h( 'h4', null, __( 'Funnel', 'cloudchat' ) ),
			steps.map( ( [ key, label ] ) => {
				const value = count( progress, key );
				const ratio = share( value, total );
				return h(
					'div',
					{ class: 'cloudchat-funnel-row', 'data-step': key },
					h( 'span', { class: 'cloudchat-funnel-label' }, label ),
					h( 'span', { class: 'cloudchat-funnel-track' }, h( 'span', { class: 'cloudchat-funnel-bar is-' + key, style: { width: ( ratio * 100 ) + '%' } } ) ),
					h( 'span', { class: 'cloudchat-funnel-value' }, value.toLocaleString() + ' (' + percentFormat.format( ratio ) + ')' )
				);
			} ),
			reasonList( __( 'Failed, by reason', 'cloudchat' ), progress && progress.failed_by_code, failureLabel, 'cloudchat-funnel-failures' ),
			reasonList( __( 'Skipped, by reason', 'cloudchat' ), progress && progress.skipped_by_reason, skipLabel, 'cloudchat-funnel-skips' )
		);
	}

	function reasonList( title, counts, label, className ) {
		const entries = counts && typeof counts === 'object' ? Object.keys( counts ).map( ( key ) => [ key, Number( counts[ key ] ) || 0 ] ) : [];
		if ( entries.length === 0 ) {
			return null;
		}
		entries.sort( ( a, b ) => b[ 1 ] - a[ 1 ] );
		return h(
			'div',
			{ class: className },
			h( 'h5', null, title ),
			h( 'ul', null, entries.map( ( [ key, value ] ) => h( 'li', { 'data-reason': key }, label( key ) + ': ' + value.toLocaleString() ) ) )
		);
	}

	/* ---------------------------------------------------------------- */
	/* The form                                                           */
	/* ---------------------------------------------------------------- */

	function createCampaignForm( onCreated ) {
		let templates = [];
		const accounts = C.accounts();

		const name = h( 'input', { type: 'text', id: 'cloudchat-campaign-name', class: 'regular-text', required: true, maxlength: '255' } );
		const account = h(
			'select',
			{ id: 'cloudchat-campaign-account', disabled: accounts.length === 0 },
			accounts.length
				? accounts.map( ( item ) => h( 'option', { value: String( item.id ) }, C.accountLabel( item ) ) )
				: h( 'option', { value: '' }, __( 'No business number is connected yet', 'cloudchat' ) )
		);
		const template = h( 'select', { id: 'cloudchat-campaign-template', disabled: true }, h( 'option', { value: '' }, __( 'Loading templates…', 'cloudchat' ) ) );
		const templatePreview = h( 'div', { class: 'cloudchat-template-preview', hidden: true } );
		const variables = h( 'div', { id: 'cloudchat-campaign-variables', class: 'cloudchat-variables' } );
		const audience = h(
			'select',
			{ id: 'cloudchat-campaign-audience' },
			h( 'option', { value: 'csv' }, __( 'People in a CSV file', 'cloudchat' ) ),
			h( 'option', { value: 'tags' }, __( 'Contacts with tags', 'cloudchat' ) ),
			h( 'option', { value: 'all_opted_in' }, __( 'Every opted-in contact', 'cloudchat' ) )
		);
		const tags = h( 'input', { type: 'text', id: 'cloudchat-campaign-tags', class: 'regular-text', placeholder: __( 'e.g. customers, spring-2026', 'cloudchat' ) } );
		const match = h(
			'select',
			{ id: 'cloudchat-campaign-match' },
			h( 'option', { value: 'any' }, __( 'Any of these tags', 'cloudchat' ) ),
			h( 'option', { value: 'all' }, __( 'All of these tags', 'cloudchat' ) )
		);
		const csvFile = h( 'input', { type: 'file', id: 'cloudchat-campaign-csv', accept: '.csv,text/csv,text/plain' } );
		const phoneColumn = h( 'input', { type: 'text', id: 'cloudchat-campaign-phone-column', placeholder: 'phone' } );
		const rate = h( 'input', { type: 'number', id: 'cloudchat-campaign-rate', class: 'small-text', min: '0.1', max: '1000', step: 'any' } );
		const create = h( 'button', { type: 'submit', id: 'cloudchat-campaign-create', class: 'button button-primary' }, __( 'Create draft', 'cloudchat' ) );
		const slot = C.noticeSlot();
		const report = h( 'div', { id: 'cloudchat-campaign-report' } );

		const tagsRow = formRow( 'cloudchat-campaign-tags', __( 'Tags', 'cloudchat' ), [ tags, ' ', match ], __( 'Separated by commas. Only opted-in contacts who are not restricted get the message.', 'cloudchat' ) );
		const csvRow = formRow( 'cloudchat-campaign-csv', __( 'CSV file', 'cloudchat' ), [
			csvFile,
			h( 'p', null, h( 'label', { for: 'cloudchat-campaign-phone-column' }, __( 'Phone column (optional)', 'cloudchat' ) ), ' ', phoneColumn ),
		], __( 'A header row and one number per row in international form. Without a phone column, one named phone, phone_number, number, mobile, whatsapp, wa_id or telephone is used. Other columns can fill template values.', 'cloudchat' ) );

		const element = h(
			'section',
			{ class: 'cloudchat-section cloudchat-campaign-new' },
			h( 'h2', null, __( 'New campaign', 'cloudchat' ) ),
			h(
				'form',
				{ id: 'cloudchat-campaign-form', novalidate: true, onSubmit: submit },
				h( 'table', { class: 'form-table', role: 'presentation' }, h( 'tbody', null,
					formRow( 'cloudchat-campaign-name', __( 'Name', 'cloudchat' ), name ),
					formRow( 'cloudchat-campaign-account', __( 'Business number', 'cloudchat' ), account ),
					formRow( 'cloudchat-campaign-template', __( 'Template', 'cloudchat' ), [ template, templatePreview ], __( 'Only templates Meta approved can be sent.', 'cloudchat' ) ),
					formRow( 'cloudchat-campaign-variables', __( 'Template values', 'cloudchat' ), variables ),
					formRow( 'cloudchat-campaign-audience', __( 'Audience', 'cloudchat' ), audience ),
					tagsRow,
					csvRow,
					formRow( 'cloudchat-campaign-rate', __( 'Rate cap', 'cloudchat' ), [ rate, ' ', __( 'messages a second', 'cloudchat' ) ], __( 'Optional. Without it the campaign goes at the number\'s pace, after replies and other messages.', 'cloudchat' ) )
				) ),
				slot,
				h( 'p', { class: 'submit' }, create )
			),
			report
		);

		account.addEventListener( 'change', fillTemplates );
		template.addEventListener( 'change', showTemplate );
		audience.addEventListener( 'change', showAudience );
		showAudience();
		showTemplate();
		loadTemplates();

		async function loadTemplates() {
			try {
				const answer = await C.api( 'templates', { query: { status: 'APPROVED' } } );
				templates = answer && Array.isArray( answer.templates ) ? answer.templates : [];
			} catch ( error ) {
				C.replaceChildren( template, h( 'option', { value: '' }, __( 'Templates could not be loaded', 'cloudchat' ) ) );
				C.showError( slot, error );
				return;
			}
			fillTemplates();
		}

		/** The approved templates of the chosen number's WABA (all of them when PHP does not say which). */
		function fillTemplates() {
			const chosen = template.value;
			const selected = accounts.find( ( item ) => String( item.id ) === account.value );
			const usable = selected && selected.waba_id ? templates.filter( ( item ) => String( item.waba_id ) === String( selected.waba_id ) ) : templates;
			C.replaceChildren(
				template,
				h( 'option', { value: '' }, usable.length ? __( 'Choose a template', 'cloudchat' ) : __( 'No approved template yet: sync them on the Templates screen', 'cloudchat' ) ),
				usable.map( ( item ) => h( 'option', { value: String( item.id ) }, item.name + ' (' + item.language + ')' ) )
			);
			template.disabled = usable.length === 0;
			template.value = usable.some( ( item ) => String( item.id ) === chosen ) ? chosen : '';
			showTemplate();
		}

		function chosenTemplate() {
			return templates.find( ( item ) => String( item.id ) === template.value ) || null;
		}

		function showTemplate() {
			const chosen = chosenTemplate();
			const body = chosen ? C.templateBodyText( chosen ) : '';
			templatePreview.textContent = body;
			templatePreview.hidden = body === '';
			const slots = chosen ? templateSlots( chosen ) : [];
			C.replaceChildren(
				variables,
				! chosen ? h( 'p', { class: 'description' }, __( 'Choose a template first.', 'cloudchat' ) ) : null,
				chosen && slots.length === 0 ? h( 'p', { class: 'description' }, __( 'This template has no values to fill.', 'cloudchat' ) ) : null,
				slots.map( variableRow )
			);
		}

		function showAudience() {
			tagsRow.hidden = audience.value !== 'tags';
			csvRow.hidden = audience.value !== 'csv';
		}

		async function submit( event ) {
			event.preventDefault();
			C.clearNotice( slot );
			const problems = [];
			const chosen = chosenTemplate();
			if ( name.value.trim() === '' ) {
				problems.push( __( 'Give the campaign a name.', 'cloudchat' ) );
			}
			if ( ! account.value ) {
				problems.push( __( 'Choose the business number that sends it.', 'cloudchat' ) );
			}
			if ( ! chosen ) {
				problems.push( __( 'Choose a template.', 'cloudchat' ) );
			}
			const built = chosen ? buildVariables( chosen, variables, audience.value === 'csv' ) : { variables: {}, problems: [] };
			problems.push( ...built.problems );
			const audienceValue = readAudience( problems );
			const rateValue = rate.value.trim() === '' ? null : Number( rate.value );
			if ( rateValue !== null && ! ( rateValue >= 0.1 && rateValue <= 1000 ) ) {
				problems.push( __( 'The rate cap is between 0.1 and 1000 messages a second.', 'cloudchat' ) );
			}
			const file = csvFile.files && csvFile.files[ 0 ];
			if ( audience.value === 'csv' && ! file ) {
				problems.push( __( 'Choose the CSV file of recipients.', 'cloudchat' ) );
			}
			if ( problems.length ) {
				C.showNotice( slot, 'error', problems.join( ' ' ) );
				return;
			}
			const data = {
				name: name.value.trim(),
				account_id: Number( account.value ),
				template_id: Number( chosen.id ),
				variables: built.variables,
				audience: audienceValue,
			};
			if ( rateValue !== null ) {
				data.rate_limit_mps = rateValue;
			}
			C.setBusy( create, true );
			try {
				if ( audience.value === 'csv' ) {
					data.csv = await C.readFileText( file );
					data.phone_column = phoneColumn.value.trim();
				}
				const answer = await C.api( 'campaigns', { method: 'POST', data } );
				renderReport( report, answer );
				name.value = '';
				onCreated( answer && answer.campaign );
			} catch ( error ) {
				C.showError( slot, error );
			} finally {
				C.setBusy( create, false );
			}
		}

		function readAudience( problems ) {
			if ( audience.value === 'tags' ) {
				const list = tags.value.split( ',' ).map( ( tag ) => tag.trim() ).filter( ( tag ) => tag !== '' );
				if ( list.length === 0 ) {
					problems.push( __( 'Name at least one tag.', 'cloudchat' ) );
				}
				return { type: 'tags', tags: list, match: match.value === 'all' ? 'all' : 'any' };
			}
			return { type: audience.value };
		}

		return { element };
	}


	/* ---------------------------------------------------------------- */
	/* Template values                                                    */
	/* ---------------------------------------------------------------- */

	/**
	 * What a template needs filled, in order: a header media link, header and
	 * body parameters ({{1}}… or {{name}}), and URL or copy-code buttons.
	 * Each: { part: 'header'|'body'|'buttons', key, media?, label, hint? }.
	 */
	function templateSlots( template ) {
		const named = String( template.parameter_format || '' ).toUpperCase() === 'NAMED';
		const slots = [];
		const header = C.templateComponent( template, 'HEADER' );
		if ( header ) {
			const format = String( header.format || 'TEXT' ).toUpperCase();
			if ( MEDIA_FORMATS.includes( format ) ) {
				slots.push( { part: 'header', key: '0', media: format.toLowerCase(), label: mediaSlotLabel( format ) } );
			} else if ( format === 'TEXT' ) {
				parameterNames( header.text, named ).forEach( ( key ) => slots.push( {
					part: 'header',
					key,
					/* translators: %s: a template parameter such as {{1}}. */
					label: sprintf( __( 'Header %s', 'cloudchat' ), '{{' + key + '}}' ),
				} ) );
			}
		}
		parameterNames( C.templateBodyText( template ), named ).forEach( ( key ) => slots.push( {
			part: 'body',
			key,
			/* translators: %s: a template parameter such as {{1}}. */
			label: sprintf( __( 'Body %s', 'cloudchat' ), '{{' + key + '}}' ),
		} ) );
		const buttons = C.templateComponent( template, 'BUTTONS' );
		( buttons && Array.isArray( buttons.buttons ) ? buttons.buttons : [] ).forEach( ( button, index ) => {
			const type = String( button.type || '' ).toUpperCase();
			if ( type === 'URL' && C.placeholders( button.url ).length > 0 ) {
				/* translators: %s: button text. */
				slots.push( { part: 'buttons', key: String( index ), label: sprintf( __( 'Button “%s”: end of its link', 'cloudchat' ), button.text || index ), hint: button.url } );
			} else if ( type === 'COPY_CODE' ) {
				/* translators: %s: button text. */
				slots.push( { part: 'buttons', key: String( index ), label: sprintf( __( 'Button “%s”: the code to copy', 'cloudchat' ), button.text || index ) } );
			}
		} );
		return slots;
	}

	/** Named parameters in order of use; positional ones by number ({{1}}, {{2}}…). */
	function parameterNames( text, named ) {
		const names = C.placeholders( text );
		return named ? names : names.slice().sort( ( a, b ) => Number( a ) - Number( b ) );
	}

	function mediaSlotLabel( format ) {
		const labels = {
			IMAGE: __( 'Header image link', 'cloudchat' ),
			VIDEO: __( 'Header video link', 'cloudchat' ),
			DOCUMENT: __( 'Header document link', 'cloudchat' ),
		};
		return labels[ format ];
	}

	/** One value to fill: a media link, or a source (text, field, column), its value and a fallback. */
	function variableRow( slot ) {
		const base = 'cloudchat-variable-' + slot.part + '-' + slot.key.replace( /[^A-Za-z0-9_-]/g, '_' );
		const attributes = { class: 'cloudchat-variable', 'data-part': slot.part, 'data-key': slot.key };
		if ( slot.media ) {
			attributes[ 'data-media' ] = slot.media;
			return h(
				'div',
				attributes,
				h( 'label', { for: base + '-link', class: 'cloudchat-variable-label' }, slot.label ),
				h( 'input', { type: 'url', id: base + '-link', class: 'regular-text cloudchat-variable-link', placeholder: 'https://…', required: true } ),
				h( 'p', { class: 'description' }, __( 'A public https address Meta can download the file from.', 'cloudchat' ) )
			);
		}
		const source = h(
			'select',
			{ id: base + '-source', class: 'cloudchat-variable-source', 'aria-label': __( 'Where the value comes from', 'cloudchat' ) },
			h( 'option', { value: 'text' }, __( 'The same text for everyone', 'cloudchat' ) ),
			h( 'option', { value: 'field' }, __( 'A contact field', 'cloudchat' ) ),
			h( 'option', { value: 'column' }, __( 'A column of the CSV file', 'cloudchat' ) )
		);
		const value = h( 'input', { type: 'text', id: base + '-value', class: 'cloudchat-variable-value', 'aria-label': __( 'Value', 'cloudchat' ) } );
		const field = h(
			'select',
			{ id: base + '-field', class: 'cloudchat-variable-field', 'aria-label': __( 'Contact field', 'cloudchat' ) },
			CONTACT_FIELDS.map( ( name ) => h( 'option', { value: name }, name ) ),
			h( 'option', { value: CUSTOM_FIELD }, __( 'custom_fields.… (a custom field)', 'cloudchat' ) )
		);
		const custom = h( 'input', { type: 'text', id: base + '-custom', class: 'cloudchat-variable-custom', placeholder: __( 'custom field key', 'cloudchat' ), 'aria-label': __( 'Custom field key', 'cloudchat' ) } );
		const fallback = h( 'input', { type: 'text', id: base + '-fallback', class: 'cloudchat-variable-fallback', placeholder: __( 'Fallback when empty (optional)', 'cloudchat' ), 'aria-label': __( 'Fallback', 'cloudchat' ) } );

		function showSource() {
			const kind = source.value;
			value.hidden = kind === 'field';
			value.placeholder = kind === 'column' ? __( 'column name', 'cloudchat' ) : __( 'text', 'cloudchat' );
			field.hidden = kind !== 'field';
			custom.hidden = kind !== 'field' || field.value !== CUSTOM_FIELD;
			fallback.hidden = kind === 'text';
		}
		source.addEventListener( 'change', showSource );
		field.addEventListener( 'change', showSource );
		showSource();

		return h(
			'div',
			attributes,
			h( 'label', { for: base + '-source', class: 'cloudchat-variable-label' }, slot.label ),
			source,
			' ',
			value,
			field,
			' ',
			custom,
			' ',
			fallback,
			slot.hint ? h( 'p', { class: 'description' }, slot.hint ) : null
		);
	}

	/**
	 * The variables object for docs/campaigns.md from the rows on screen, or the
	 * problems that stop it (an empty value is never sent: Meta refuses them).
	 */
	function buildVariables( template, container, csvAudience ) {
		const named = String( template.parameter_format || '' ).toUpperCase() === 'NAMED';
		const problems = [];
		const parts = { header: [], body: [], buttons: [] };
		container.querySelectorAll( '.cloudchat-variable' ).forEach( ( row ) => {
			const label = row.querySelector( '.cloudchat-variable-label' ).textContent;
			const value = readVariable( row, csvAudience );
			if ( value.problem ) {
				/* translators: 1: which template value, 2: what is wrong with it. */
				problems.push( sprintf( __( '%1$s: %2$s', 'cloudchat' ), label, value.problem ) );
				return;
			}
			parts[ row.getAttribute( 'data-part' ) ].push( {
				key: row.getAttribute( 'data-key' ),
				source: value.source,
				media: row.hasAttribute( 'data-media' ),
			} );
		} );
		const variables = {};
		[ 'header', 'body' ].forEach( ( part ) => {
			const list = parts[ part ];
			if ( list.length === 0 ) {
				return;
			}
			if ( named && ! list.some( ( item ) => item.media ) ) {
				variables[ part ] = {};
				list.forEach( ( item ) => {
					variables[ part ][ item.key ] = item.source;
				} );
			} else {
				variables[ part ] = list.map( ( item ) => item.source );
			}
		} );
		if ( parts.buttons.length ) {
			variables.buttons = {};
			parts.buttons.forEach( ( item ) => {
				variables.buttons[ item.key ] = item.source;
			} );
		}
		return { variables, problems };
	}

	/** One row's source: { source } or { problem }. */
	function readVariable( row, csvAudience ) {
		const media = row.getAttribute( 'data-media' );
		if ( media ) {
			const link = row.querySelector( '.cloudchat-variable-link' ).value.trim();
			if ( ! /^https?:\/\/\S+$/i.test( link ) ) {
				return { problem: __( 'give the file\'s public https address', 'cloudchat' ) };
			}
			return { source: { [ media ]: { link } } };
		}
		const kind = row.querySelector( '.cloudchat-variable-source' ).value;
		const value = row.querySelector( '.cloudchat-variable-value' ).value.trim();
		const fallback = row.querySelector( '.cloudchat-variable-fallback' ).value.trim();
		let source;
		if ( kind === 'text' ) {
			if ( value === '' ) {
				return { problem: __( 'write the text', 'cloudchat' ) };
			}
			return { source: { text: value } };
		}
		if ( kind === 'column' ) {
			if ( ! csvAudience ) {
				return { problem: __( 'a CSV column needs a CSV audience', 'cloudchat' ) };
			}
			if ( value === '' ) {
				return { problem: __( 'name the column', 'cloudchat' ) };
			}
			source = { column: value };
		} else {
			let field = row.querySelector( '.cloudchat-variable-field' ).value;
			if ( field === CUSTOM_FIELD ) {
				const key = row.querySelector( '.cloudchat-variable-custom' ).value.trim();
				if ( key === '' ) {
					return { problem: __( 'name the custom field', 'cloudchat' ) };
				}
				field = CUSTOM_FIELD + key;
			}
			source = { field };
		}
		if ( fallback !== '' ) {
			source.fallback = fallback;
		}
		return { source };
	}

	/* ---------------------------------------------------------------- */
	/* Import report                                                      */
	/* ---------------------------------------------------------------- */

	function renderReport( area, answer ) {
		const campaign = answer && answer.campaign ? answer.campaign : {};
		const imported = answer && answer.import ? answer.import : null;
		C.replaceChildren(
			area,
			h( 'div', { class: 'notice notice-success inline' }, h( 'p', null,
				/* translators: %s: campaign name. */
				sprintf( __( 'The campaign “%s” was created as a draft. Start or schedule it from the list above.', 'cloudchat' ), campaign.name || '' )
			) ),
			imported ? importReport( imported ) : null
		);
	}

	function importReport( report ) {
		const skipped = report.skipped && typeof report.skipped === 'object' ? report.skipped : {};
		const problems = Array.isArray( report.problems ) ? report.problems : [];
		const rejected = Number( report.rejected ) || 0;
		const facts = [
			/* translators: %d: rows. */
			sprintf( __( 'Rows read: %d', 'cloudchat' ), Number( report.rows ) || 0 ),
			/* translators: %d: recipients. */
			sprintf( __( 'Recipients added: %d', 'cloudchat' ), Number( report.added ) || 0 ),
			/* translators: %d: contacts. */
			sprintf( __( 'New contacts: %d', 'cloudchat' ), Number( report.contacts_created ) || 0 ),
			/* translators: %d: rows. */
			sprintf( __( 'Already in this campaign: %d', 'cloudchat' ), Number( report.already_in_campaign ) || 0 ),
			/* translators: %d: rows. */
			sprintf( __( 'Rows left out: %d', 'cloudchat' ), rejected ),
		];
		Object.keys( skipped ).forEach( ( reason ) => {
			/* translators: 1: why recipients are skipped, 2: how many. */
			facts.push( sprintf( __( 'Added as skipped (%1$s): %2$d', 'cloudchat' ), skipLabel( reason ), Number( skipped[ reason ] ) || 0 ) );
		} );
		return h(
			'div',
			{ class: 'cloudchat-import-report' },
			h( 'h3', null, __( 'Import of the CSV file', 'cloudchat' ) ),
			h( 'ul', null, facts.map( ( fact ) => h( 'li', null, fact ) ) ),
			problems.length
				? h( 'table', { class: 'widefat striped cloudchat-import-problems' },
					h( 'thead', null, h( 'tr', null, h( 'th', { scope: 'col' }, __( 'Line', 'cloudchat' ) ), h( 'th', { scope: 'col' }, __( 'Problem', 'cloudchat' ) ) ) ),
					h( 'tbody', null, problems.map( ( item ) => h( 'tr', { class: 'cloudchat-row-error' }, h( 'td', null, String( item.line ) ), h( 'td', null, item.reason || '' ) ) ) ) )
				: null,
			/* translators: %d: number of problems listed. */
			rejected > problems.length ? h( 'p', { class: 'description' }, sprintf( __( 'Only the first %d problems are listed.', 'cloudchat' ), problems.length ) ) : null
		);
	}
}() );
