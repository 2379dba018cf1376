<?php
/**
 * Plugin Name:       CloudChat
 * Plugin URI:        https://cloudchat.example/
 * Description:       Run your WhatsApp Business inbox, contacts, templates and campaigns from wp-admin, with every record kept in your own database. Needs the cloudchatd service on the same server.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      7.4
 * Author:            CloudChat
 * License:           GPL-2.0-or-later
 * License URI:       https://www.gnu.org/licenses/gpl-2.0.html
 * Text Domain:       cloudchat
 * Domain Path:       /languages
 *
 * @package CloudChat
 */

defined( 'ABSPATH' ) || exit;

define( 'CLOUDCHAT_VERSION', '0.1.0' );
define( 'CLOUDCHAT_PLUGIN_FILE', __FILE__ );
define( 'CLOUDCHAT_PLUGIN_DIR', plugin_dir_path( __FILE__ ) );
/** The schema version (`cloudchat_db_version`) this plugin's queries are written for. */
define( 'CLOUDCHAT_REQUIRED_DB_VERSION', 1 );

require_once CLOUDCHAT_PLUGIN_DIR . 'includes/class-cloudchat-tables.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/class-cloudchat-phone.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/class-cloudchat-csv.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/class-cloudchat-format.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/class-cloudchat-settings.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/class-cloudchat-roles.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/class-cloudchat-schema.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/class-cloudchat-daemon-client.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/class-cloudchat-contact-import.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/class-cloudchat-personal-data.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/rest/class-cloudchat-rest-controller.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/rest/class-cloudchat-rest-inbox.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/rest/class-cloudchat-rest-contacts.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/rest/class-cloudchat-rest-templates.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/rest/class-cloudchat-rest-campaigns.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/rest/class-cloudchat-rest-settings.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/class-cloudchat-admin.php';
require_once CLOUDCHAT_PLUGIN_DIR . 'includes/class-cloudchat-plugin.php';

register_activation_hook( __FILE__, array( 'CloudChat_Roles', 'activate' ) );

CloudChat_Plugin::boot();
