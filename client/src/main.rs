//! Entry point of the web app: installs the panic hook and mounts `App`. Nothing else.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(client::App);
}
