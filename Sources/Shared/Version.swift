/// The one place the FieldMedic version is written; `--version` and the packages read it.
public enum FieldMedicVersion {
    public static let current = "0.1.0"
}
