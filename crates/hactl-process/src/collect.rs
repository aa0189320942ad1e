//! Reading a program's stdout or stderr up to its exit (see the crate docs for why
//! not up to EOF).

use crate::Collector;
use std::os::fd::AsRawFd;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::oneshot;

/// How long to wait for a collector to hand over what it read once the program
/// exited (it only drains what is already in the pipe).
const HANDOVER: Duration = Duration::from_secs(1);

/// Starts reading `pipe` (if there is one) in the background.
pub(crate) fn spawn<R>(pipe: Option<R>, cap: usize) -> Collector
where
    R: AsyncRead + AsRawFd + Unpin + Send + 'static,
{
    let Some(pipe) = pipe else {
        return (None, None);
    };
    let (done_tx, done_rx) = oneshot::channel();
    let (out_tx, out_rx) = oneshot::channel();
    tokio::spawn(collect(pipe, cap, done_rx, out_tx));
    (Some(done_tx), Some(out_rx))
}

/// Tells the collector the program exited and takes what it read.
pub(crate) async fn finish(
    done: Option<oneshot::Sender<()>>,
    out: Option<oneshot::Receiver<Vec<u8>>>,
) -> String {
    if let Some(done) = done {
        // Err: the collector already finished at EOF and sent its output.
        done.send(()).ok();
    }
    let bytes = match out {
        Some(rx) => match tokio::time::timeout(HANDOVER, rx).await {
            Ok(Ok(b)) => b,
            _ => Vec::new(),
        },
        None => Vec::new(),
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Reads one pipe. Sends what the program wrote on `out` when the pipe reaches EOF or,
/// once `done` fires (the program exited), as soon as the pipe is empty. After that
/// it keeps reading and discarding until EOF: a background grandchild that inherited
/// the pipe (send_arp) must neither get SIGPIPE nor block on a full pipe.
async fn collect<R>(
    mut r: R,
    cap: usize,
    mut done: oneshot::Receiver<()>,
    out: oneshot::Sender<Vec<u8>>,
) where
    R: AsyncRead + AsRawFd + Unpin,
{
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        tokio::select! {
            biased;
            n = r.read(&mut chunk) => match n {
                Ok(0) | Err(_) => {
                    // Err: nobody waits for the output any more.
                    out.send(buf).ok();
                    return;
                }
                Ok(n) => keep(&mut buf, &chunk[..n], cap),
            },
            _ = &mut done => {
                drain_ready(&r, &mut buf, cap);
                out.send(buf).ok();
                while let Ok(n) = r.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                }
                return;
            }
        }
    }
}

fn keep(buf: &mut Vec<u8>, data: &[u8], cap: usize) {
    let room = cap.saturating_sub(buf.len());
    buf.extend_from_slice(&data[..data.len().min(room)]);
}

/// Takes what is already in the pipe. tokio's child pipes are non-blocking, so read()
/// returns EAGAIN (-1) once the pipe is empty even if a grandchild holds it open.
fn drain_ready<R: AsRawFd>(r: &R, buf: &mut Vec<u8>, cap: usize) {
    let fd = r.as_raw_fd();
    let mut chunk = [0u8; 8192];
    loop {
        // SAFETY: fd stays open (the caller owns `r`); chunk is writable for its length.
        let n = unsafe { libc::read(fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        let Ok(n) = usize::try_from(n) else {
            break;
        };
        if n == 0 {
            break;
        }
        keep(buf, &chunk[..n], cap);
    }
}
