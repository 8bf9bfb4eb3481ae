/*
 * ms_proto.h - the multisync wire protocol: constants shared by master,
 * worker and the command-line client.
 *
 * Every message is a multipart ZeroMQ message:
 *
 *     [routing id]  (only as seen by a ROUTER socket)
 *     [protocol]    MS_PROTO_ID followed by one version byte (6 bytes)
 *     [command]     one byte, an ms_cmd_t
 *     [body]        one msgpack map (see ms_codec.h for each command's keys)
 *
 * A peer that sends a different version gets MS_CMD_ERROR (whose body is the
 * same in every version: {"message": str}) and a log line on both sides.
 *
 * Two conversations share these frames:
 *   worker  <-> master  (master ROUTER on --listen, worker DEALER)
 *   client  <-> master  (master ROUTER on --control, client DEALER)
 */
#ifndef MS_PROTO_H
#define MS_PROTO_H

#define MS_PROTO_ID "MSYNC"
#define MS_PROTO_ID_LEN 5
#define MS_PROTO_VERSION 2 /* 2: BATCH */
#define MS_PROTO_FRAME_LEN (MS_PROTO_ID_LEN + 1)

/* Bounds on what a peer may send. ZMQ_MAXMSGSIZE is per frame, so the frame
 * count is bounded separately by the receiver. */
#define MS_MAX_FRAME_BYTES (4 * 1024 * 1024)
#define MS_MAX_FRAMES 4  /* routing id + protocol + command + body */
#define MS_MAX_BATCH 256 /* messages in one BATCH */

/* Field bounds enforced by the codec. */
#define MS_MAX_NAME 255   /* worker name / host name */
#define MS_MAX_PATH 4096  /* a source or destination path */
#define MS_MAX_ITEMS 4096 /* entries in each list of a TASK: items, excl, match, xmatch */
/* The most slots a worker has (--slots, slots = in its config, HELLO slots,
 * READY credit, heartbeat busy): the pool's table and the tasks a worker
 * announces it still holds are bounded by it. */
#define MS_MAX_SLOTS 4096
#define MS_MAX_TEXT 65536 /* an error message or a rsync stderr tail */
/* A report or a status, master -> client only: a run of 100,000 tasks has a
 * report of about 40 MB. The client raises its own ZMQ_MAXMSGSIZE to take
 * it (MS_MAX_REPLY_BYTES); what the master accepts stays MS_MAX_FRAME_BYTES. */
#define MS_MAX_JSON (256 * 1024 * 1024)
#define MS_MAX_REPLY_BYTES (MS_MAX_JSON + 1024)

/* Heartbeating (Paranoid Pirate). */
#define MS_HEARTBEAT_MS 1000
#define MS_HEARTBEAT_LIVENESS 3
#define MS_RECONNECT_MIN_MS 1000
#define MS_RECONNECT_MAX_MS 32000

typedef enum {
    /* worker <-> master */
    MS_CMD_HELLO = 0x01,     /* worker -> master: name, slots */
    MS_CMD_READY = 0x02,     /* worker -> master: credit (free slots given back) */
    MS_CMD_TASK = 0x03,      /* master -> worker: one task; costs one credit */
    MS_CMD_RESULT = 0x04,    /* worker -> master: outcome and counters of a task */
    MS_CMD_HEARTBEAT = 0x05, /* both ways */
    MS_CMD_BYE = 0x06,       /* either side is leaving: reason */
    MS_CMD_ERROR = 0x07,     /* the last message was refused: message */
    MS_CMD_HOLD = 0x08,      /* worker -> master: after HELLO, a task it still runs */
    MS_CMD_CANCEL = 0x09,    /* master -> worker: stop that task, it is not yours */
    MS_CMD_DRAIN = 0x0a,     /* worker -> master: send me no more tasks */
    MS_CMD_PROGRESS = 0x0b,  /* worker -> master: bytes done of a running task */
    MS_CMD_BATCH = 0x0c,     /* either way: several of the above in one (ms_codec.h) */
    /* client <-> master (control endpoint) */
    MS_CMD_RUN = 0x10,          /* client -> master: source, dest, set */
    MS_CMD_RUN_STARTED = 0x11,  /* master -> client: run_id */
    MS_CMD_RUN_DONE = 0x12,     /* master -> client: run_id, report (JSON text) */
    MS_CMD_STATUS = 0x13,       /* client -> master: (empty) */
    MS_CMD_STATUS_REPLY = 0x14, /* master -> client: json (JSON text) */
    MS_CMD_WAIT = 0x15,         /* client -> master: run_id; answered by RUN_DONE */
    MS_CMD_REPORT = 0x16,       /* client -> master: run_id; answered by RUN_DONE now */
    MS_CMD_HISTORY = 0x17,      /* client -> master: n; answered by STATUS_REPLY */
    MS_CMD_SNAPSHOTS = 0x18,    /* client -> master: set; its snapshots, by STATUS_REPLY */
    MS_CMD_CANCEL_RUN = 0x19,   /* client -> master: run_id; stop that run, by STATUS_REPLY */
} ms_cmd_t;

/* Flags of a task. */
#define MS_TASK_TOP 0x1u    /* the loose files directly in the source root */
#define MS_TASK_DELETE 0x2u /* mirror deletions: rsync --delete-delay */
/* The top task of a run with --delete in which every other task succeeded:
 * it also removes the backups of projects gone from the source, unless
 * they are more than a quarter of the backup's (MS_TASK_FORCE: even then). */
#define MS_TASK_PRUNE 0x4u
#define MS_TASK_FORCE 0x8u
/* Retention: remove the folder PROJECT of the snapshot folder snap
 * ("NAME.pruning") in the destination; no rsync, no source. */
#define MS_TASK_REMOVE 0x10u
/* Verify: compare the source with the backup by content (rsync -c -n -i),
 * writing nothing; snap, when set, is the complete snapshot compared. */
#define MS_TASK_VERIFY 0x20u
/* A pack of tiny projects in one rsync: project and every items[i] are
 * project folders of the source root, each copied to the same folder of
 * the destination (`rsync -a ./P ./I1 ./I2 ... DST/`). */
#define MS_TASK_PACK 0x40u
/* A snapshot's project (or part) unchanged since the link snapshot took
 * it: carried over by hard links from the link snapshot's copy (rsync from
 * DST/LINK/P with --link-dest to it), without reading the source. */
#define MS_TASK_CARRY 0x80u
/* The master's own mark of a project held in a pack (never sent). */
#define MS_TASK_PACKED 0x100u
/* With MS_TASK_VERIFY: a dry run of the copy (`multisync run -n`): rsync
 * -n -i as the copy would run it (no -c; --delete-delay only with
 * MS_TASK_DELETE), writing nothing; a folder the backup lacks is compared
 * with nothing, so that every entry of the source is listed. */
#define MS_TASK_DRY_RUN 0x200u
#define MS_TASK_FLAGS_KNOWN                                                                        \
    (MS_TASK_TOP | MS_TASK_DELETE | MS_TASK_PRUNE | MS_TASK_FORCE | MS_TASK_REMOVE |               \
     MS_TASK_VERIFY | MS_TASK_PACK | MS_TASK_CARRY | MS_TASK_DRY_RUN)

/* Flags of a run (RUN from a client; kept in the catalog). */
#define MS_RUN_DELETE                                                                              \
    0x1u                         /* mirror deletions (rsync --delete-delay), and remove the        \
                                  * backups of projects gone from the source */
#define MS_RUN_FORCE_DELETE 0x2u /* remove them even when they are more than a quarter */
/* A point-in-time snapshot (ms_snap.h) instead of a mirror: a new folder
 * DST/<UTC time>, unchanged files hard links to the last snapshot's. */
#define MS_RUN_SNAPSHOT 0x4u
/* Compare the source with the backup (RUN "snapshot": which; default latest
 * for a snapshot destination), writing nothing: `multisync verify`. */
#define MS_RUN_VERIFY 0x8u
/* Copy back from a snapshot (RUN "snapshot", "path": PROJECT[/PATH]) into
 * the destination folder: `multisync restore`. */
#define MS_RUN_RESTORE 0x10u
/* With MS_RUN_RESTORE: write into a folder that is not empty. */
#define MS_RUN_FORCE 0x20u
/* A full pass: every project copied by rsync, none skipped as unchanged
 * (--full, or every full_every-th run). */
#define MS_RUN_FULL 0x40u
/* With MS_RUN_VERIFY: a dry run of the backup the other flags describe
 * (`multisync run -n`): what it would copy and delete, per project,
 * writing nothing; projects it would skip as unchanged are skipped. Being
 * a verify, it is no backup: no lock, no snapshot, no fingerprint. */
#define MS_RUN_DRY_RUN 0x80u
#define MS_RUN_FLAGS_KNOWN                                                                         \
    (MS_RUN_DELETE | MS_RUN_FORCE_DELETE | MS_RUN_SNAPSHOT | MS_RUN_VERIFY | MS_RUN_RESTORE |      \
     MS_RUN_FORCE | MS_RUN_FULL | MS_RUN_DRY_RUN)
/* The master's own mark of a run that was cancelled (CANCEL_RUN, Ctrl-C):
 * kept with the run in the catalog, so that a restart does not resume it;
 * never sent (not in MS_RUN_FLAGS_KNOWN: a RUN asking for it is refused). */
#define MS_RUN_CANCELLED 0x8000u
/* The master's own mark of a run waiting for its set's pre_run hook (its
 * walk and tasks held): kept in the catalog, so that a restart fails the
 * run rather than run it without its pre_run; never sent. */
#define MS_RUN_PRE_RUN 0x4000u

/* What a worker says of itself in HELLO: which of its roots are unrestricted. */
#define MS_UNCONFINED_SOURCE 0x1u /* no allow_source: it reads any folder it is sent */
#define MS_UNCONFINED_DEST 0x2u   /* no allow_dest: it writes any destination it is sent */

/* The longest a run waits for a worker that can take its tasks (RUN "wait"). */
#define MS_WORKER_WAIT_MAX_S 604800
#define MS_WORKER_WAIT_DEFAULT_S 600

/* Exit codes a worker reports for a task that rsync did not end (RESULT). */
#define MS_EXIT_REFUSED (-1) /* refused: bad fields, a path outside its roots... */
#define MS_EXIT_BUSY (-2)    /* could not take it now (draining): run it elsewhere */
#define MS_EXIT_VANISHED                                                                           \
    (-3) /* its source folder is gone since the walk: nothing                                      \
          * to copy, nothing created (a warning, like rsync's 24) */
/* rsync's own code when its --max-delete limit stopped deletions; also what
 * the top task reports when pruning was refused (more than a quarter). */
#define MS_EXIT_MAX_DELETE 25
/* A verify task found differences between the source and the backup (its
 * message lists them): final, not retried. */
#define MS_EXIT_DIFFERS (-4)
/* A task not run: its fingerprint is the one of its last successful copy
 * with the same options (the master's, no worker's: ms_unchanged.h). */
#define MS_EXIT_UNCHANGED (-5)
/* A task of a cancelled run (the master's): it never started, or its rsync
 * was stopped. Final, not retried. */
#define MS_EXIT_CANCELLED (-6)
/* A dry-run task found what the copy would change (its message lists
 * them): a success, final. */
#define MS_EXIT_WOULD_CHANGE (-7)

/* In a local destination root: the lock a run holds while it writes there
 * (flock; see ms_lock.h). The top task neither copies nor deletes it. */
#define MS_DEST_LOCK ".multisync.lock"

/* Name of a command for logs ("HELLO"), or "UNKNOWN". */
const char *ms_cmd_name(int cmd);

#endif
