use glue_label_importer::{handler, logging, State};
use lambda_runtime::{run, service_fn, Error};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    let state = match State::from_env().await {
        Ok(state) => state,
        Err(e) => {
            tracing::error!("{e}");
            std::process::exit(1);
        }
    };
    run(service_fn(|event| handler::handle(&state, event))).await
}
