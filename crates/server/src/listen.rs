//! Accepting connections: plain TCP or TLS, HTTP/1.1 and HTTP/2, each connection served by
//! hyper with the axum router as its service, and the verified client certificate's names
//! put into every request's extensions ([`PeerIdentity`]), with the client's address
//! ([`PeerAddr`]).
//!
//! Graceful shutdown: when `shutdown` completes, the listener is closed (no new
//! connections), idle connections are closed, and in-flight requests finish (at most
//! [`SHUTDOWN_GRACE`]). Connections are bounded by [`CONNECTIONS_MAX`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::auth::{PeerAddr, PeerIdentity};
use crate::limits::{CONNECTIONS_MAX, SHUTDOWN_GRACE, TLS_HANDSHAKE_TIMEOUT};
use crate::x509;

/// Serves `app` on `listener` until `shutdown` completes, then drains.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let connections = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer_addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!("accept failed: {error}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small requests and acknowledgements: no Nagle delay.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => {
                    serve_connection(TokioIo::new(stream), app, peer_addr, None, watcher).await;
                }
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await;
                    let Ok(Ok(stream)) = handshake else {
                        tracing::debug!("tls handshake failed or timed out");
                        return;
                    };
                    let peer = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .map(|certificate| x509::peer_identity(certificate));
                    serve_connection(TokioIo::new(stream), app, peer_addr, peer, watcher).await;
                }
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the shutdown grace period were cut");
    }
}

async fn serve_connection<I>(
    io: TokioIo<I>,
    app: Router,
    peer_addr: SocketAddr,
    peer: Option<PeerIdentity>,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
        request.extensions_mut().insert(PeerAddr(peer_addr));
        if let Some(peer) = &peer {
            request.extensions_mut().insert(peer.clone());
        }
        app.clone().oneshot(request)
    });
    let builder = Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection_with_upgrades(io, service);
    if let Err(error) = watcher.watch(connection.into_owned()).await {
        tracing::debug!("connection ended: {error}");
    }
}
