/* SPDX-License-Identifier: MIT */
/* main.c - `banter`: global options and the command table. A client of
 * the node's control socket; `banter node` becomes banter-node
 * (node_main.c), so this program links libbanter, libsodium and cJSON only. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "front.h"

static const cli_cmd commands[] = {
    {"node", cmd_node_exec,
     "node [--name NAME] [--port N] [--web-port N] [--no-mdns] [--peer HOST:PORT]...\n"
     "       [--rendezvous HOST:PORT --server-key FINGERPRINT]",
     "Run the node in the foreground until SIGINT or SIGTERM. It creates the identity on\n"
     "first start, finds colleagues on the LAN through avahi-daemon, and listens on TCP\n"
     "port N (default 7070). --peer adds a static peer where multicast is blocked.\n"
     "--rendezvous keeps a connection to the organisation's rendezvous server (reconnecting\n"
     "when it drops); --server-key pins its key, as printed by `banter-rendezvous\n"
     "fingerprint` (spaces optional): a server with another key is refused.\n"
     "The web interface listens on 127.0.0.1 port --web-port (default: web_port in\n"
     "banter.conf, else 7420; the next 9 ports when it is taken; 0 turns it off)."},
    {"open", cmd_open, "open [--print]",
     "Open the node's web interface in your browser, or with --print (or without a\n"
     "display) print its address. The address holds the key that lets you in: keep it\n"
     "to yourself."},
    {"id", cmd_id, "id [--json]", "Print this node's fingerprint and name."},
    {"peers", cmd_peers, "peers [--json]",
     "List known peers: name, online, trust (new, known, verified, certified, lapsed,\n"
     "changed), source (lan, static), fingerprint and address; for each connected\n"
     "device how it is reached: lan, direct (ICE), relay (ICE through TURN) or the\n"
     "server's relay."},
    {"doctor", cmd_doctor, "doctor [CONTACT] [--json]",
     "Check what this node needs to reach people and say what to fix: LAN discovery\n"
     "(multicast interfaces), the rendezvous (connected, logged in), NAT and TURN\n"
     "(as nat-check), and with CONTACT whether it is approved, online and by which\n"
     "route. Each check is ok, warn, fail or skip. Takes up to 10 s."},
    {"nat-check", cmd_nat_check, "nat-check [--json]",
     "Gather direct-connection candidates against the STUN/TURN servers the rendezvous\n"
     "named and say what this node can offer contacts: its addresses, whether it is\n"
     "behind NAT, whether TURN works over UDP, only over TCP, or not at all. Takes up\n"
     "to 10 s. Needs a rendezvous (the servers come from it)."},
    {"send", cmd_send, "send PEER|%GROUP TEXT [--wait SECONDS] | send --group GROUP TEXT",
     "Send TEXT to PEER (a name or a unique fingerprint prefix), or to every member of\n"
     "a group (%GROUP, or --group GROUP; exit 0 once queued). Exit 0 when the peer\n"
     "acknowledged it, 3 when it is queued and will be delivered when the peer is back.\n"
     "--wait: how long to wait for the acknowledgement (default 5 s while the peer is\n"
     "online; given explicitly, also while it is offline)."},
    {"broadcast", cmd_broadcast, "broadcast TEXT [--org [--department D]]",
     "Send TEXT to every known peer and approved contact, online now or when they are\n"
     "back. --org: an announcement to everyone in the organisation (or in department D)\n"
     "through the rendezvous server; needs the broadcast right (admins have it)."},
    {"history", cmd_history, "history PEER|%GROUP [--json] [--limit N] [--before SEQ]",
     "Show the conversation with PEER, oldest first: the last N messages (default 50,\n"
     "at most 100000), or the last N before the message numbered SEQ (its \"seq\" in\n"
     "--json). The node answers in pages; this command follows them itself. %GROUP: a\n"
     "group's messages in the group's order (at most 500), with delivery per member for\n"
     "yours (\"delivered to 4 of 5\"). `history --announcements`: the organisation's\n"
     "announcements (banter announcements)."},
    {"group", cmd_group,
     "group create NAME [MEMBER...] | invite GROUP MEMBER... | remove GROUP MEMBER |\n"
     "       leave GROUP | delete GROUP [--json] | rename GROUP NAME |\n"
     "       admin GROUP MEMBER on|off | list [--json] | members GROUP [--json]",
     "Group conversations, end-to-end encrypted for the members' devices only. MEMBER:\n"
     "@ACCOUNT, a contact's name, or a LAN colleague's key; GROUP: its name or id.\n"
     "Admins (the creator, and whom admins make admins) invite, remove and rename; any\n"
     "member leaves. Send with `banter send %GROUP TEXT` (or --group GROUP).\n"
     "delete: remove the group from this node: if still a member, leave it first (the\n"
     "others see a leave); then its state, keys and history (search too) go, and what\n"
     "comes for it later is refused. Left groups count toward the 1000 a node holds;\n"
     "at that many, invitations are refused (group list says so): delete old ones.\n"
     "Exit 0 done, 5 no such group (or several of that name: use its id), 1 failed,\n"
     "4 no node."},
    {"find", cmd_find, "find TEXT [--json] [--limit N] [--before SEQ]",
     "Search the history of every conversation and group for messages holding every\n"
     "word of TEXT (as prefixes, ignoring case and accents), newest first, 20 at a time;\n"
     "--before SEQ shows the next page. `banter search TEXT` (without FIELD=VALUE) is the\n"
     "same."},
    {"listen", cmd_listen, "listen [--json]",
     "Print events as they happen: messages, peers online and offline, key changes,\n"
     "file offers and finished or failed transfers, the organisation's announcements\n"
     "(each one printed is marked read: the server counts it).\n"
     "With --json, one JSON object per line."},
    {"announcements", cmd_announcements, "announcements [--unread] [--limit N] [--json]",
     "The organisation's announcements this node received (from an admin's\n"
     "`banter-admin announce`), oldest first, the last N (default 50, at most 200);\n"
     "--unread: only those not shown yet. Each one printed that was unread is marked\n"
     "read, and the server is told (it counts who read it). `banter history\n"
     "--announcements` is the same."},
    {"send-file", cmd_send_file, "send-file PEER|%GROUP PATH... [--wait]",
     "Offer files and folders to PEER. The node hashes them, then offers names, sizes and\n"
     "hashes; the files go once PEER accepts. On a terminal (or with --wait) a progress\n"
     "bar follows the transfer: exit 0 when PEER verified every file, 7 declined,\n"
     "8 cancelled, 1 failed; Ctrl-C leaves it running in the node. Otherwise it prints\n"
     "the transfer id and exits 0 (3 when PEER is offline: offered when they are back).\n"
     "%GROUP: one offer to each other member of the group, each accepting or declining\n"
     "on their own (exit 3 when some are offered when they are back)."},
    {"transfers", cmd_transfers, "transfers [--json] [--all | --before ID]",
     "List file transfers, newest first: id, peer, direction, state, progress, name, error.\n"
     "Shows the newest 50; --all shows every one (asked for 50 at a time), --before ID\n"
     "the 50 older than transfer ID (its full id, as --json and the hint show it)."},
    {"accept", cmd_accept, "accept ID [--to DIR]",
     "Accept an incoming transfer (ID: a unique prefix of its id) into DIR (default:\n"
     "download_dir in banter.conf, else $XDG_DOWNLOAD_DIR, else ~/Downloads). Also\n"
     "resumes a failed transfer."},
    {"decline", cmd_decline, "decline ID", "Decline an incoming transfer."},
    {"cancel", cmd_cancel, "cancel ID",
     "Stop a transfer in either direction; partial files of an incoming one are deleted."},
    {"rendezvous", cmd_rendezvous, "rendezvous [--json]",
     "Show the rendezvous server: address, pinned key, connected or not (and why), the\n"
     "account this device is logged in as, and until when its certificate is valid."},
    {"login", cmd_login, "login USER [--password-file F]",
     "Log in to the rendezvous server as USER; this binds the device to the account, so\n"
     "later connections need no password. The password is asked on the terminal without\n"
     "echo, or read from the first line of F. Exit 9 when the server refuses it."},
    {"logout", cmd_logout, "logout",
     "Unbind this device from its account on the rendezvous server (and forget the\n"
     "organisation certificate)."},
    {"profile", cmd_profile, "profile set FIELD VALUE",
     "Set a field of your directory profile: display_name, title, email, phone,\n"
     "location or about. An empty VALUE clears it. The department is set by your\n"
     "organisation's admins."},
    {"search", cmd_search, "search [FIELD=VALUE | FIELD~SUBSTRING]... [--json] [--page N]",
     "Search the organisation's directory. FIELD is user, display_name, department,\n"
     "title, email, phone, location or about; = matches the whole value, ~ a part of it,\n"
     "both ignoring case; all criteria must match (at most 8). 20 users per page, by\n"
     "account name; --page N (from 1) shows the others. --json prints the users as JSON."},
    {"contacts", cmd_contacts, "contacts [--json]",
     "List your rendezvous contacts: account, display name, state (approved, incoming,\n"
     "outgoing, blocked) and, for approved ones, presence and status text."},
    {"contact", cmd_contact, "contact add|remove|block|unblock USER",
     "add: ask USER to be your contact (you see each other's presence and profile and\n"
     "can message once they approve). remove: end it. block: drop USER's messages and\n"
     "requests without telling them. unblock: undo that."},
    {"requests", cmd_requests, "requests [--json]",
     "Show who asks to be your contact, and whom you asked."},
    {"approve", cmd_approve, "approve USER", "Approve USER's contact request."},
    {"deny", cmd_approve, "deny USER", "Deny USER's contact request."},
    {"status", cmd_status, "status online|away|busy|invisible [TEXT]",
     "Set your presence, shown to your approved contacts with TEXT (at most 128 bytes).\n"
     "invisible: you look offline to everyone but keep receiving messages."},
    {"plugins", cmd_plugins, "plugins [list | enable NAME | disable NAME | restart NAME] [--json]",
     "List the node's plug-ins (from plugin.NAME.path in banter.conf) with their state\n"
     "(running, backoff, failed, stopped, disabled), restarts and last error; enable or\n"
     "disable one (remembered across restarts), or restart it (loading its .so again).\n"
     "Each runs in a process of its own:\n"
     "see docs/plugins.md."},
    {"verify", cmd_verify, "verify PEER",
     "Mark PEER's current key as verified, after you compared fingerprints with them\n"
     "(in person or on the phone). Also accepts a changed key."},
};

const cli_cmd *cli_find(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: banter [--home DIR] COMMAND [ARGS]\n\n"
               "Banter: end-to-end encrypted office messenger.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %s\n", commands[i].usage);
    fprintf(f, "\nDIR defaults to $BANTER_HOME, else $XDG_DATA_HOME/banter.\n"
               "`banter COMMAND --help` explains a command; exit codes are in banter(1).\n");
}

int main(int argc, char **argv)
{
    const char *home_opt = NULL;
    int code;
    int i = front_options(argc, argv, "banter", usage, &home_opt, &code);
    if (i < 0)
        return code;
    if (i == argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const cli_cmd *c = cli_find(argv[i]);
    if (!c) {
        fprintf(stderr, "banter: unknown command \"%s\" (banter --help lists them)\n", argv[i]);
        return EXIT_USAGE;
    }
    if (cli_wants_help(c->name, argc - i, argv + i))
        return EXIT_OK;
    return front_run(home_opt, c->fn, argc - i, argv + i);
}
