//! `-o json|yaml`: the same value a person sees, as data.

use serde::Serialize;

use super::cli::OutputFormat;
use super::error::PluginError;

pub fn render<T: Serialize>(format: OutputFormat, value: &T) -> Result<String, PluginError> {
    let text = match format {
        OutputFormat::Json => serde_json::to_string_pretty(value)
            .map(|text| text + "\n")
            .map_err(|error| error.to_string()),
        OutputFormat::Yaml => serde_norway::to_string(value).map_err(|error| error.to_string()),
    };
    text.map_err(|error| PluginError::Failed(format!("cannot encode the output: {error}")))
}
