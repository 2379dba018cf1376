/**
 * CloudChat Inbox: the conversation list and the open thread with its reply box.
 *
 * Both poll every pollSeconds. Lists and threads are updated in place, keyed
 * by id, so a poll that brings nothing new changes nothing on the page (no
 * lost selection, focus or scroll position).
 */
( function () {
	'use strict';

	const { __, _n, sprintf } = wp.i18n;
	const C = window.CloudChat;
	const h = C.h;

	const PAGE_SIZE = 50; // conversations per "Show more"
	const MAX_PER_PAGE = 100; // the REST route's limit

	C.mount( 'inbox', ( app ) => {
		app.appendChild( createInbox().element );
	} );

	/* ---------------------------------------------------------------- */
	/* The inbox: list pane and thread pane                               */
	/* ---------------------------------------------------------------- */

	function createInbox() {
		let conversations = [];
		let total = 0;
		let limit = PAGE_SIZE;
		let selectedId = null;
		let thread = null;

		const search = h( 'input', {
			type: 'search',
			id: 'cloudchat-conversation-search',
			class: 'cloudchat-search',
			placeholder: __( 'Search by name or number', 'cloudchat' ),
			'aria-label': __( 'Search conversations', 'cloudchat' ),
			autocomplete: 'off',
		} );
		const listSlot = C.noticeSlot();
		const list = createConversationList( ( id ) => open( id ) );
		const more = h( 'button', { type: 'button', class: 'button cloudchat-more', hidden: true, onClick: showMore }, __( 'Show more', 'cloudchat' ) );
		const listPane = h( 'div', { class: 'cloudchat-inbox-list' }, h( 'div', { class: 'cloudchat-inbox-search' }, search ), listSlot, list.element, more );
		const threadPane = h( 'div', { class: 'cloudchat-inbox-thread' }, placeholder() );
		const element = h( 'div', { id: 'cloudchat-inbox', class: 'cloudchat-inbox' }, listPane, threadPane );

		const poll = C.poller( loadConversations, C.config.pollSeconds );
		search.addEventListener( 'input', C.debounce( () => {
			limit = PAGE_SIZE;
			poll.now();
		}, 300 ) );
		poll.start( true );

		async function loadConversations() {
			const term = search.value.trim();
			let answer;
			try {
				answer = await fetchConversations( term, limit );
			} catch ( error ) {
				C.showError( listSlot, error );
				return;
			}
			if ( term !== search.value.trim() ) {
				return; // The search changed while this was loading; the next run shows it.
			}
			C.clearNotice( listSlot );
			conversations = answer.conversations;
			total = answer.total;
			render();
		}

		function render() {
			list.render( conversations, selectedId, search.value.trim() !== '' );
			more.hidden = total <= conversations.length;
		}

		function showMore() {
			limit += PAGE_SIZE;
			poll.now();
		}

		function open( id ) {
			if ( String( id ) === selectedId && thread ) {
				return;
			}
			if ( thread ) {
				thread.close();
			}
			selectedId = String( id );
			render();
			const conversation = conversations.find( ( item ) => String( item.id ) === selectedId ) || null;
			thread = createThread( selectedId, conversation, { onConversation: updateConversation } );
			C.replaceChildren( threadPane, thread.element );
			thread.start();
		}

		// The thread knows better (read state, last message): show it in the list at once.
		function updateConversation( conversation ) {
			const index = conversations.findIndex( ( item ) => String( item.id ) === String( conversation.id ) );
			if ( index >= 0 ) {
				conversations[ index ] = Object.assign( {}, conversations[ index ], conversation );
				render();
			}
		}

		return { element };
	}

	/** Pages of up to 100 until `limit` conversations (usually one call). */
	async function fetchConversations( search, limit ) {
		const perPage = Math.min( limit, MAX_PER_PAGE );
		const pages = Math.ceil( limit / perPage );
		let conversations = [];
		let total = 0;
		for ( let page = 1; page <= pages; page++ ) {
			const answer = await C.api( 'conversations', { query: { search, page, per_page: perPage } } );
			const batch = answer && Array.isArray( answer.conversations ) ? answer.conversations : [];
			conversations = conversations.concat( batch );
			total = answer && typeof answer.total === 'number' ? answer.total : conversations.length;
			if ( batch.length < perPage ) {
				break;
			}
		}
		return { conversations, total };
	}

	function placeholder() {
		return h( 'div', { class: 'cloudchat-thread-placeholder' }, h( 'p', null, __( 'Choose a conversation to read it and reply.', 'cloudchat' ) ) );
	}

	function contactName( contact ) {
		if ( ! contact ) {
			return __( 'Unknown contact', 'cloudchat' );
		}
		return contact.name || C.formatPhone( contact.wa_id || contact.phone ) || __( 'Unknown contact', 'cloudchat' );
	}

	/* ---------------------------------------------------------------- */
	/* Conversation list                                                  */
	/* ---------------------------------------------------------------- */

	function createConversationList( onOpen ) {
		const items = new Map(); // id → { node, signature }
		const element = h( 'ul', { class: 'cloudchat-conversations', 'aria-label': __( 'Conversations', 'cloudchat' ) } );
		const empty = h( 'li', { class: 'cloudchat-conversations-empty' } );

		function render( conversations, selectedId, searching ) {
			const seen = new Set();
			let previous = null;
			conversations.forEach( ( conversation ) => {
				const id = String( conversation.id );
				seen.add( id );
				const item = itemFor( id );
				const signature = JSON.stringify( [ conversation.contact, conversation.last_message, conversation.last_message_at, conversation.unread_count ] );
				if ( item.signature !== signature ) {
					fillItem( item.node, conversation );
					item.signature = signature;
				}
				const selected = id === selectedId;
				item.node.classList.toggle( 'is-selected', selected );
				item.node.setAttribute( 'aria-current', selected ? 'true' : 'false' );
				previous = placeAfter( element, item.node, previous );
			} );
			items.forEach( ( item, id ) => {
				if ( ! seen.has( id ) ) {
					item.node.remove();
					items.delete( id );
				}
			} );
			empty.textContent = searching ? __( 'No conversation matches this search.', 'cloudchat' ) : __( 'No conversations yet. They appear here when a customer writes to your WhatsApp number.', 'cloudchat' );
			if ( conversations.length === 0 ) {
				element.appendChild( empty );
			} else {
				empty.remove();
			}
		}

		function itemFor( id ) {
			if ( ! items.has( id ) ) {
				const node = h( 'li', {
					class: 'cloudchat-conversation',
					'data-conversation-id': id,
					tabindex: '0',
					role: 'button',
					onClick: () => onOpen( id ),
					onKeydown: ( event ) => {
						if ( event.key === 'Enter' || event.key === ' ' ) {
							event.preventDefault();
							onOpen( id );
						}
					},
				} );
				items.set( id, { node, signature: null } );
			}
			return items.get( id );
		}

		return { element, render };
	}

	/** Puts node right after previous (or first), moving it only when it is elsewhere. */
	function placeAfter( parent, node, previous ) {
		const expected = previous ? previous.nextSibling : parent.firstChild;
		if ( expected !== node ) {
			parent.insertBefore( node, expected );
		}
		return node;
	}

	function fillItem( node, conversation ) {
		const last = conversation.last_message;
		const unread = Number( conversation.unread_count ) || 0;
		let preview = last && last.preview ? last.preview : '';
		if ( last && last.direction === 'outbound' && preview !== '' ) {
			/* translators: %s: preview of a message the business sent. */
			preview = sprintf( __( 'You: %s', 'cloudchat' ), preview );
		}
		C.replaceChildren(
			node,
			h(
				'div',
				{ class: 'cloudchat-conversation-top' },
				h( 'span', { class: 'cloudchat-conversation-name' }, contactName( conversation.contact ) ),
				h( 'time', { class: 'cloudchat-conversation-time', datetime: conversation.last_message_at || null }, conversation.last_message_at ? C.formatTime( conversation.last_message_at, 'short' ) : '' )
			),
			h(
				'div',
				{ class: 'cloudchat-conversation-bottom' },
				h( 'span', { class: 'cloudchat-conversation-preview' }, preview ),
				unread > 0
					? h(
						'span',
						{
							class: 'cloudchat-unread',
							/* translators: %d: number of unread messages. */
							'aria-label': sprintf( _n( '%d unread message', '%d unread messages', unread, 'cloudchat' ), unread ),
						},
						String( unread )
					)
					: null
			)
		);
		node.classList.toggle( 'has-unread', unread > 0 );
	}

	/* ---------------------------------------------------------------- */
	/* Thread                                                             */
	/* ---------------------------------------------------------------- */

	/**
	 * One open conversation. `known` is the list's copy (for the header until
	 * the thread loads); callbacks.onConversation hears of newer copies.
	 */
	function createThread( id, known, callbacks ) {
		let conversation = known;
		let messages = [];
		let closed = false;
		let reading = false;
		let headerSignature = null;
		let windowRefusedFor; // last_inbound_at when the server answered 409 window closed
		let stickToBottom = true;

		const header = h( 'header', { class: 'cloudchat-thread-header' } );
		const loadSlot = C.noticeSlot();
		const messageList = h( 'div', {
			class: 'cloudchat-messages',
			role: 'log',
			'aria-live': 'polite',
			'aria-label': __( 'Messages', 'cloudchat' ),
			tabindex: '0',
		} );
		const reply = createReplyBox( {
			conversationId: id,
			accountId: () => ( conversation ? conversation.account_id : null ),
			onSent: addMessage,
			onWindowClosed: () => {
				windowRefusedFor = conversation ? conversation.last_inbound_at : null;
				reply.setMode( 'template' );
			},
		} );
		const element = h(
			'section',
			{ id: 'cloudchat-thread', class: 'cloudchat-thread', 'data-conversation-id': id, 'aria-busy': 'true' },
			header,
			loadSlot,
			messageList,
			reply.element
		);
		const renderer = createMessageRenderer( messageList, () => conversation, () => {
			if ( stickToBottom ) {
				scrollToBottom();
			}
		} );
		const poll = C.poller( refresh, C.config.pollSeconds );

		messageList.addEventListener( 'scroll', () => {
			stickToBottom = isAtBottom();
		} );

		function start() {
			if ( conversation ) {
				showConversation( conversation );
			}
			markRead();
			poll.start( true );
		}

		function close() {
			closed = true;
			poll.stop();
		}

		async function refresh() {
			let answer;
			try {
				answer = await C.api( 'conversations/' + encodeURIComponent( id ) );
			} catch ( error ) {
				if ( ! closed ) {
					C.showError( loadSlot, error );
				}
				return;
			}
			if ( closed || ! answer ) {
				return;
			}
			C.clearNotice( loadSlot );
			element.setAttribute( 'aria-busy', 'false' );
			if ( answer.conversation ) {
				showConversation( answer.conversation );
			}
			showMessages( Array.isArray( answer.messages ) ? answer.messages : [] );
			// New messages arrived while the agent is looking at them.
			if ( conversation && conversation.unread_count > 0 && document.visibilityState === 'visible' ) {
				markRead();
			}
		}

		async function markRead() {
			if ( reading ) {
				return;
			}
			reading = true;
			try {
				const answer = await C.api( 'conversations/' + encodeURIComponent( id ) + '/read', { method: 'POST', data: {} } );
				if ( ! closed && answer && answer.conversation ) {
					conversation = Object.assign( {}, conversation, answer.conversation );
					callbacks.onConversation( answer.conversation );
				}
			} catch ( error ) {
				// Not worth interrupting the agent: the badge simply stays until the next try.
			} finally {
				reading = false;
			}
		}

		function showConversation( next ) {
			conversation = next;
			callbacks.onConversation( next );
			const signature = JSON.stringify( [ next.contact, next.window_open, next.window_closes_at ] );
			if ( signature !== headerSignature ) {
				headerSignature = signature;
				renderHeader( header, next );
			}
			const refused = windowRefusedFor !== undefined && windowRefusedFor === next.last_inbound_at;
			reply.setMode( next.window_open && ! refused ? 'text' : 'template' );
		}

		function showMessages( next ) {
			const wasAtBottom = messages.length === 0 || isAtBottom();
			messages = next;
			const changed = renderer.render( messages );
			if ( changed && wasAtBottom ) {
				scrollToBottom();
			}
		}

		// A reply the server just queued: shown at once, before the next poll.
		// The daemon not hearing of it means it is down: the reply waits in the queue, and the banner says so.
		function addMessage( answer ) {
			if ( answer && answer.daemon_notified === false ) {
				C.banner();
			}
			const message = answer && answer.message;
			if ( ! message || messages.some( ( item ) => item.id === message.id ) ) {
				return;
			}
			messages = messages.concat( [ message ] );
			renderer.render( messages );
			scrollToBottom();
		}

		function isAtBottom() {
			return messageList.scrollHeight - messageList.scrollTop - messageList.clientHeight < 40;
		}

		function scrollToBottom() {
			messageList.scrollTop = messageList.scrollHeight;
			stickToBottom = true;
		}

		return { element, start, close };
	}

	function renderHeader( header, conversation ) {
		const contact = conversation.contact || {};
		const number = C.formatPhone( contact.wa_id || contact.phone );
		const name = contactName( contact );
		let windowText;
		if ( conversation.window_open ) {
			windowText = conversation.window_closes_at
				/* translators: %s: date and time the 24-hour reply window closes. */
				? sprintf( __( 'Reply window open until %s', 'cloudchat' ), C.formatTime( conversation.window_closes_at ) )
				: __( 'Reply window open', 'cloudchat' );
		} else {
			windowText = __( 'Reply window closed: only templates can be sent', 'cloudchat' );
		}
		C.replaceChildren(
			header,
			h( 'h2', { class: 'cloudchat-thread-name' }, name ),
			number && number !== name ? h( 'span', { class: 'cloudchat-thread-number' }, number ) : null,
			h( 'span', { class: [ 'cloudchat-window', conversation.window_open ? 'is-open' : 'is-closed' ] }, windowText )
		);
	}

	/* ---------------------------------------------------------------- */
	/* Messages                                                           */
	/* ---------------------------------------------------------------- */

	/**
	 * Keeps a message list in step with the server's, keyed by message id;
	 * a message is rebuilt only when something in it changed.
	 * render() answers whether anything changed.
	 */
	function createMessageRenderer( container, getConversation, onMediaLoaded ) {
		const nodes = new Map(); // id → { node, signature }
		const empty = h( 'p', { class: 'cloudchat-thread-empty' }, __( 'No messages yet.', 'cloudchat' ) );
		let listSignature = null;

		function render( messages ) {
			const signatures = messages.map( ( message ) => JSON.stringify( message ) );
			const joined = signatures.join( '\n' );
			if ( joined === listSignature ) {
				return false;
			}
			listSignature = joined;
			const byWamid = new Map();
			messages.forEach( ( message ) => {
				if ( message.wamid ) {
					byWamid.set( message.wamid, message );
				}
			} );
			const seen = new Set();
			let previous = null;
			messages.forEach( ( message, index ) => {
				const key = String( message.id );
				seen.add( key );
				let entry = nodes.get( key );
				if ( ! entry || entry.signature !== signatures[ index ] ) {
					const node = messageNode( message, { byWamid, conversation: getConversation(), onMediaLoaded } );
					if ( entry ) {
						entry.node.replaceWith( node );
					}
					entry = { node, signature: signatures[ index ] };
					nodes.set( key, entry );
				}
				previous = placeAfter( container, entry.node, previous );
			} );
			nodes.forEach( ( entry, key ) => {
				if ( ! seen.has( key ) ) {
					entry.node.remove();
					nodes.delete( key );
				}
			} );
			if ( messages.length === 0 ) {
				container.appendChild( empty );
			} else {
				empty.remove();
			}
			return true;
		}

		return { render };
	}

	function messageNode( message, context ) {
		const outbound = message.direction === 'outbound';
		const status = message.status || '';
		const node = h(
			'div',
			{
				class: [ 'cloudchat-message', outbound ? 'is-outbound' : 'is-inbound', status === 'failed' ? 'is-failed' : null ],
				'data-message-id': message.id,
				'data-direction': message.direction || '',
				'data-status': status,
				'data-type': message.type || '',
			},
			h(
				'div',
				{ class: 'cloudchat-bubble' },
				quoteFor( message, context ),
				h( 'div', { class: 'cloudchat-message-body' }, messageContent( message, context ) ),
				h(
					'div',
					{ class: 'cloudchat-message-meta' },
					h( 'time', { class: 'cloudchat-message-time', datetime: message.at || null, title: C.formatTime( message.at ) }, C.formatTime( message.at, 'short' ) ),
					outbound ? tick( message ) : null
				)
			)
		);
		// Pictures grow the thread after it was scrolled: keep the newest message in view.
		node.querySelectorAll( 'img' ).forEach( ( media ) => media.addEventListener( 'load', context.onMediaLoaded ) );
		node.querySelectorAll( 'video' ).forEach( ( media ) => media.addEventListener( 'loadedmetadata', context.onMediaLoaded ) );
		return node;
	}

	/** The quoted message above a reply, or the message a reaction is about. */
	function quoteFor( message, context ) {
		let preview = null;
		if ( message.context ) {
			preview = message.context.preview || __( 'An earlier message', 'cloudchat' );
		} else if ( message.type === 'reaction' && message.reaction_to && context.byWamid.has( message.reaction_to ) ) {
			preview = previewOf( context.byWamid.get( message.reaction_to ) );
		}
		return preview === null ? null : h( 'div', { class: 'cloudchat-quote' }, preview );
	}

	function previewOf( message ) {
		const body = typeof message.body === 'string' ? message.body.trim() : '';
		if ( body !== '' ) {
			return body.length > 120 ? body.slice( 0, 119 ) + '…' : body;
		}
		return mediaLabel( message.type );
	}

	/** What a message shows, by type. */
	function messageContent( message, context ) {
		if ( message.revoked ) {
			return note( __( 'This message was deleted.', 'cloudchat' ) );
		}
		switch ( message.type ) {
			case 'text':
			case 'template':
			case 'button':
			case 'interactive':
				return hasText( message.body ) ? text( message.body ) : note( sprintf( /* translators: %s: message type. */ __( '[%s] message', 'cloudchat' ), message.type ) );
			case 'image':
			case 'sticker':
				return [ imageOf( message ), caption( message ) ];
			case 'video':
			case 'audio':
				return [ playerOf( message ), caption( message ) ];
			case 'document':
				return [ documentOf( message ), caption( message ) ];
			case 'location':
				return locationOf( message );
			case 'reaction':
				return reactionOf( message, context.conversation );
			default:
				return [
					note( sprintf( /* translators: %s: message type, such as "order". */ __( '[%s] message', 'cloudchat' ), message.type || __( 'unknown', 'cloudchat' ) ) ),
					hasText( message.body ) ? text( message.body ) : null,
				];
		}
	}

	function hasText( value ) {
		return typeof value === 'string' && value.trim() !== '';
	}

	function text( value ) {
		return h( 'div', { class: 'cloudchat-text' }, value );
	}

	function note( value ) {
		return h( 'em', { class: 'cloudchat-message-note' }, value );
	}

	function caption( message ) {
		return hasText( message.body ) ? h( 'div', { class: 'cloudchat-caption' }, message.body ) : null;
	}

	function mediaLabel( type ) {
		const labels = {
			image: __( 'Photo', 'cloudchat' ),
			sticker: __( 'Sticker', 'cloudchat' ),
			video: __( 'Video', 'cloudchat' ),
			audio: __( 'Voice message', 'cloudchat' ),
			document: __( 'Document', 'cloudchat' ),
			location: __( 'Location', 'cloudchat' ),
		};
		return labels[ type ] || sprintf( /* translators: %s: message type. */ __( '[%s] message', 'cloudchat' ), type );
	}

	/** The media's URL when the file is stored on this site, else null. */
	function storedUrl( message ) {
		const media = message.media;
		return media && media.state === 'stored' ? C.safeUrl( media.url ) : null;
	}

	/** Why a media file cannot be shown. */
	function mediaMissing( message ) {
		const state = message.media ? message.media.state : null;
		const label = mediaLabel( message.type );
		const why = state === 'failed' || state === 'expired' || state === 'deleted'
			/* translators: %s: kind of file, such as "Photo". */
			? sprintf( __( '%s could not be downloaded', 'cloudchat' ), label )
			/* translators: %s: kind of file, such as "Photo". */
			: sprintf( __( '%s not downloaded yet', 'cloudchat' ), label );
		return h( 'span', { class: 'cloudchat-media-missing' }, why );
	}

	function imageOf( message ) {
		const url = storedUrl( message );
		if ( ! url ) {
			return mediaMissing( message );
		}
		return h( 'a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'cloudchat-media-link' }, h( 'img', {
			src: url,
			alt: hasText( message.body ) ? message.body : mediaLabel( message.type ),
			class: message.type === 'sticker' ? 'cloudchat-sticker' : 'cloudchat-image',
			loading: 'lazy',
		} ) );
	}

	function playerOf( message ) {
		const url = storedUrl( message );
		if ( ! url ) {
			return mediaMissing( message );
		}
		return h( message.type === 'video' ? 'video' : 'audio', {
			src: url,
			controls: true,
			preload: 'metadata',
			class: 'cloudchat-player',
		} );
	}

	function documentOf( message ) {
		const media = message.media || {};
		const name = media.file_name || __( 'Document', 'cloudchat' );
		const url = storedUrl( message );
		if ( ! url ) {
			return [ h( 'span', { class: 'cloudchat-document-name' }, '📄 ', name ), ' ', mediaMissing( message ) ];
		}
		return h( 'a', { href: url, download: name, class: 'cloudchat-document' }, '📄 ', name );
	}

	function locationOf( message ) {
		const place = message.location;
		if ( ! place ) {
			return note( mediaLabel( 'location' ) );
		}
		const title = place.name || place.address || [ place.latitude, place.longitude ].join( ', ' );
		const url = C.safeUrl( place.map_url );
		return [
			h( url ? 'a' : 'span', url ? { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'cloudchat-location' } : { class: 'cloudchat-location' },
				h( 'span', { class: 'dashicons dashicons-location', 'aria-hidden': 'true' } ), ' ', title ),
			place.name && place.address ? h( 'div', { class: 'cloudchat-location-address' }, place.address ) : null,
		];
	}

	function reactionOf( message, conversation ) {
		const emoji = typeof message.body === 'string' ? message.body.trim() : '';
		const outbound = message.direction === 'outbound';
		let line;
		if ( emoji === '' ) {
			line = outbound ? __( 'You removed a reaction', 'cloudchat' ) : __( 'removed a reaction', 'cloudchat' );
		} else if ( outbound ) {
			/* translators: %s: the reaction emoji. */
			line = sprintf( __( 'You reacted %s to a message', 'cloudchat' ), emoji );
		} else {
			/* translators: 1: contact name, 2: the reaction emoji. */
			line = sprintf( __( '%1$s reacted %2$s to a message', 'cloudchat' ), contactName( conversation && conversation.contact ), emoji );
		}
		return note( line );
	}

	/** The delivery tick of an outbound message. */
	function tick( message ) {
		const status = message.status || '';
		// Dashicons rather than emoji: wp-admin has them on every browser.
		const clock = () => h( 'span', { class: 'dashicons dashicons-clock', 'aria-hidden': 'true' } );
		const ticks = {
			queued: [ clock(), __( 'Queued', 'cloudchat' ) ],
			sending: [ clock(), __( 'Sending', 'cloudchat' ) ],
			accepted: [ '✓', __( 'Accepted by WhatsApp', 'cloudchat' ) ],
			sent: [ '✓', __( 'Sent', 'cloudchat' ) ],
			delivered: [ '✓✓', __( 'Delivered', 'cloudchat' ) ],
			read: [ '✓✓', __( 'Read', 'cloudchat' ) ],
			played: [ '✓✓', __( 'Played', 'cloudchat' ) ],
		};
		if ( status === 'failed' ) {
			const why = failureText( message.error );
			return h( 'span', { class: 'cloudchat-tick is-failed', title: why }, h( 'span', { class: 'dashicons dashicons-warning', 'aria-hidden': 'true' } ), ' ', why );
		}
		const [ symbol, label ] = ticks[ status ] || [ '', status ];
		return h( 'span', {
			class: [ 'cloudchat-tick', 'is-' + status, status === 'played' ? 'is-read' : null ],
			title: label,
			role: 'img',
			'aria-label': label,
		}, symbol );
	}

	function failureText( error ) {
		const title = error && error.title ? error.title : __( 'Not delivered', 'cloudchat' );
		return error && error.code !== null && error.code !== undefined ? title + ' (' + error.code + ')' : title;
	}

	/* ---------------------------------------------------------------- */
	/* Reply box                                                          */
	/* ---------------------------------------------------------------- */

	/**
	 * Free text inside the 24-hour window ('text'), a template outside it
	 * ('template'). setMode() rebuilds only on a change, so typing survives polls.
	 */
	function createReplyBox( options ) {
		const element = h( 'div', { class: 'cloudchat-reply-area' } );
		let mode = null;
		let draft = '';

		function setMode( next ) {
			if ( next === mode ) {
				return;
			}
			const textarea = element.querySelector( '#cloudchat-reply-text' );
			if ( textarea ) {
				draft = textarea.value; // Kept in case the window opens again.
			}
			mode = next;
			C.replaceChildren( element, next === 'text' ? textReply() : templateReply() );
		}

		function textReply() {
			const slot = C.noticeSlot( 'cloudchat-reply-notice' );
			const textarea = h( 'textarea', {
				id: 'cloudchat-reply-text',
				class: 'cloudchat-reply-text',
				rows: '3',
				placeholder: __( 'Write a reply… (Enter sends, Shift+Enter starts a new line)', 'cloudchat' ),
				'aria-label': __( 'Reply', 'cloudchat' ),
				value: draft,
			} );
			const send = h( 'button', { type: 'submit', id: 'cloudchat-reply-send', class: 'button button-primary' }, __( 'Send', 'cloudchat' ) );
			let sending = false;

			async function submit() {
				const text = textarea.value.trim();
				if ( text === '' || sending ) {
					return;
				}
				sending = true;
				C.setBusy( send, true );
				try {
					const answer = await C.api( 'conversations/' + encodeURIComponent( options.conversationId ) + '/messages', { method: 'POST', data: { text } } );
					textarea.value = '';
					draft = '';
					C.clearNotice( slot );
					options.onSent( answer );
					textarea.focus();
				} catch ( error ) {
					if ( error && error.code === 'cloudchat_window_closed' ) {
						draft = textarea.value;
						options.onWindowClosed();
						C.showError( element.querySelector( '.cloudchat-notice-slot' ), error );
						return;
					}
					C.showError( slot, error );
				} finally {
					sending = false;
					C.setBusy( send, false );
				}
			}

			textarea.addEventListener( 'keydown', ( event ) => {
				if ( event.key === 'Enter' && ! event.shiftKey && ! event.isComposing ) {
					event.preventDefault();
					submit();
				}
			} );
			return h(
				'form',
				{
					class: 'cloudchat-reply',
					onSubmit: ( event ) => {
						event.preventDefault();
						submit();
					},
				},
				slot,
				h( 'div', { class: 'cloudchat-reply-row' }, textarea, send )
			);
		}

		function templateReply() {
			const slot = C.noticeSlot( 'cloudchat-reply-notice' );
			const select = h( 'select', { id: 'cloudchat-reply-template', disabled: true }, h( 'option', { value: '' }, __( 'Loading templates…', 'cloudchat' ) ) );
			const preview = h( 'div', { class: 'cloudchat-template-preview' } );
			const parameters = h( 'div', { class: 'cloudchat-template-parameters' } );
			const send = h( 'button', { type: 'submit', id: 'cloudchat-reply-template-send', class: 'button button-primary', disabled: true }, __( 'Send template', 'cloudchat' ) );
			let templates = [];
			let sending = false;

			loadTemplates( options.accountId() ).then( ( list ) => {
				templates = list;
				C.replaceChildren(
					select,
					h( 'option', { value: '' }, list.length ? __( 'Choose a template', 'cloudchat' ) : __( 'No approved template yet', 'cloudchat' ) ),
					list.map( ( template ) => h( 'option', { value: String( template.id ) }, template.name + ' (' + template.language + ')' ) )
				);
				select.disabled = list.length === 0;
			} ).catch( ( error ) => {
				C.replaceChildren( select, h( 'option', { value: '' }, __( 'Templates could not be loaded', 'cloudchat' ) ) );
				C.showError( slot, error );
			} );

			select.addEventListener( 'change', () => {
				const template = templates.find( ( item ) => String( item.id ) === select.value ) || null;
				showTemplate( template, preview, parameters );
				send.disabled = ! template;
			} );

			async function submit() {
				const template = templates.find( ( item ) => String( item.id ) === select.value );
				if ( ! template || sending ) {
					return;
				}
				const inputs = Array.from( parameters.querySelectorAll( '.cloudchat-template-parameter' ) );
				const values = inputs.map( ( input ) => input.value.trim() );
				if ( values.some( ( value ) => value === '' ) ) {
					C.showNotice( slot, 'error', __( 'Fill in every parameter: WhatsApp refuses empty ones.', 'cloudchat' ) );
					return;
				}
				sending = true;
				C.setBusy( send, true );
				try {
					const answer = await C.api( 'conversations/' + encodeURIComponent( options.conversationId ) + '/messages', {
						method: 'POST',
						data: { template_id: Number( template.id ), parameters: values },
					} );
					inputs.forEach( ( input ) => {
						input.value = '';
					} );
					C.clearNotice( slot );
					options.onSent( answer );
				} catch ( error ) {
					C.showError( slot, error );
				} finally {
					sending = false;
					C.setBusy( send, ! select.value );
				}
			}

			return h(
				'form',
				{
					class: 'cloudchat-window-closed',
					onSubmit: ( event ) => {
						event.preventDefault();
						submit();
					},
				},
				h( 'p', { class: 'cloudchat-window-closed-text' }, __( 'WhatsApp only allows templates more than 24 hours after the customer\'s last message: free-form replies are possible again once they write back. Choose an approved template to reach them now.', 'cloudchat' ) ),
				slot,
				h( 'label', { for: 'cloudchat-reply-template', class: 'cloudchat-label' }, __( 'Template', 'cloudchat' ) ),
				select,
				preview,
				parameters,
				h( 'p', null, send )
			);
		}

		return { element, setMode };
	}

	/** Shows a template's body and one input per parameter. */
	function showTemplate( template, preview, parameters ) {
		C.replaceChildren( preview );
		C.replaceChildren( parameters );
		if ( ! template ) {
			return;
		}
		const body = C.templateBodyText( template );
		if ( body ) {
			preview.textContent = body;
		}
		const names = C.placeholders( body );
		const count = Number( template.parameters ) || names.length;
		for ( let index = 0; index < count; index++ ) {
			const inputId = 'cloudchat-reply-parameter-' + ( index + 1 );
			const name = names[ index ] || String( index + 1 );
			parameters.appendChild( h(
				'p',
				{ class: 'cloudchat-template-parameter-row' },
				h( 'label', { for: inputId }, '{{' + name + '}}' ),
				' ',
				h( 'input', { type: 'text', id: inputId, class: 'cloudchat-template-parameter regular-text', 'data-parameter': name, required: true } )
			) );
		}
	}

	// Approved templates, loaded once per page; a failure lets the next try ask again.
	let templatesRequest = null;

	function loadTemplates( accountId ) {
		if ( ! templatesRequest ) {
			templatesRequest = C.api( 'templates', { query: { status: 'APPROVED' } } )
				.then( ( answer ) => ( answer && Array.isArray( answer.templates ) ? answer.templates : [] ) )
				.catch( ( error ) => {
					templatesRequest = null;
					throw error;
				} );
		}
		return templatesRequest.then( ( templates ) => templatesOfAccount( templates, accountId ) );
	}

	/** Only the templates of the number's WABA, when PHP tells which WABA that is. */
	function templatesOfAccount( templates, accountId ) {
		const account = C.accounts().find( ( item ) => String( item.id ) === String( accountId ) );
		if ( ! account || ! account.waba_id ) {
			return templates;
		}
		return templates.filter( ( template ) => String( template.waba_id ) === String( account.waba_id ) );
	}
}() );
