//! `${VAR}` and `${VAR:-default}` substitution from the environment, done once at load time.

/// Substitutes every `${VAR}` / `${VAR:-default}` in `text` using `lookup`; `$$` is a literal `$`.
/// An unset variable without a default is an error naming it.
pub fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let end = body
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in `{text}`"))?;
        let (name, default) = match body[..end].split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (&body[..end], None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`${{{}}}` is not a valid variable name",
                &body[..end]
            ));
        }
        match (lookup(name).filter(|v| !v.is_empty()), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => return Err(format!("environment variable `{name}` is not set")),
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// [`substitute`] against the process environment.
pub fn substitute_env(text: &str) -> Result<String, String> {
    substitute(text, |name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOST").then(|| "inv.local".to_string())
    }

    #[test]
    fn substitutes_set_and_defaulted_variables() {
        assert_eq!(
            substitute("http://${HOST}/{sku}", env).unwrap(),
            "http://inv.local/{sku}"
        );
        assert_eq!(substitute("${MISSING:-2000}ms", env).unwrap(), "2000ms");
        assert_eq!(
            substitute("cost $$5 and $x", env).unwrap(),
            "cost $5 and $x"
        );
    }

    #[test]
    fn unset_without_default_is_an_error() {
        let err = substitute("${INVENTORY_API_URL}/{sku}", env).unwrap_err();
        assert_eq!(err, "environment variable `INVENTORY_API_URL` is not set");
        assert!(substitute("${BAD NAME}", env).is_err());
        assert!(substitute("${OPEN", env).is_err());
    }
}
